"""The provenance panel: what a draft came from, shown in the editor and on the Review page.

One call per page (``provenance.panel(dialogue_id)``); it reads through the service like every
page read, cached for a few seconds, and shows the same facts as ``curation show DIALOGUE``.
"""

from __future__ import annotations

import streamlit as st

from curation_app.errors import CurationError
from curation_app.services import generation
from curation_app.ui import readers, state
from curation_app.ui.i18n import t
from curation_app.ui.plain import md, t_md


@st.cache_data(ttl=readers.TTL_S, show_spinner=False)
def _view(url: str, dialogue_id: int) -> generation.ProvenanceView:
    return generation.provenance_view(readers.context(), dialogue_id)


def panel(dialogue_id: int | None) -> None:
    """An expander with model, template and version, sampling, seeds, tokens, cost, request id
    and the exact prompt of ``dialogue_id``."""
    if dialogue_id is None:
        return
    try:
        view = _view(readers.context().engine.url.render_as_string(hide_password=True),
                     dialogue_id)
    except CurationError:
        return
    with st.expander(t("provenance.title")):
        if view.model is None and view.template is None:
            st.caption(t_md("provenance.none", source=view.source))
        lines = view.lines(prompt=False)
        # model, template and seed topics are user text: each line is escaped
        st.markdown("  \n".join(md(line) for line in lines[1:]) or "—")
        if view.seeds:
            st.caption(t("provenance.seeds"))
            for seed in view.seeds:
                label = md(f"#{seed.id} · {seed.topic or '—'}")  # a button label is Markdown
                if st.button(label, key=f"provenance.seed.{dialogue_id}.{seed.id}",
                             disabled=not seed.exists, icon=":material/open_in_new:"):
                    state.put(state.EDITOR_DIALOGUE, seed.id)
                    st.switch_page("views/editor.py")
        for message in view.prompt:
            st.caption(md(message.get("role", "")))
            st.code(str(message.get("content", "")), language=None, wrap_lines=True)
