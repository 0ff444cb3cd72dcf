"""Releases page (leads): cut a versioned release with a progress bar per stage, and read the
earlier releases with their dataset cards."""

from __future__ import annotations

import re

import streamlit as st

from curation_app.domain import Status
from curation_app.errors import CurationError, ReleaseBlockedError, SelectionChangedError
from curation_app.services import release as release_services
from curation_app.ui import layout, readers
from curation_app.ui.feedback import load, show_error
from curation_app.ui.i18n import t
from curation_app.ui.plain import md, t_md

actor = layout.require_actor(layout.start())
project = layout.require_project()
out = release_services.exports_dir()
st.title(t("releases.title"))
st.caption(t_md("releases.intro", folder=str(out)))

earlier = load(release_services.list_releases, project, out)
with st.form("releases.form"):
    c1, c2, c3 = st.columns(3)
    # Suggest the next patch version after the newest release.
    suggested = (re.sub(r"(\d+)$", lambda m: str(int(m.group(1)) + 1), earlier[0].version)
                 if earlier else "1.0.0")
    version = c1.text_input(t("releases.version"), value=suggested, key="releases.version")
    ratios = c2.text_input(t("releases.splits"), value="0.8,0.1,0.1", key="releases.splits")
    seed = c3.number_input(t("releases.seed"), min_value=0, value=0, step=1,
                           key="releases.seed")
    choices = [str(s) for s in Status if s != Status.DISCARDED]
    statuses = st.multiselect(t("releases.statuses"), choices, default=["approved"],
                              format_func=lambda s: t(f"status.{s}"), key="releases.statuses")
    build = st.form_submit_button(t("releases.build"), type="primary", key="releases.build_go")

if build:
    bar = st.progress(0.0, text=t("releases.starting"))

    def progress(stage: str, number: int, total: int) -> None:
        bar.progress(number / total, text=t("releases.stage", stage=stage, number=number,
                                            total=total))

    try:
        summary = release_services.build_release(
            readers.context(), actor, project, version, out=out, ratios=ratios, seed=int(seed),
            statuses=statuses or None, on_progress=progress)
    except SelectionChangedError as exc:  # not findings: the text moved under the build
        bar.empty()
        show_error(exc)
    except ReleaseBlockedError as exc:
        bar.empty()
        st.error(t("releases.blocked", count=len(exc.findings)), icon=":material/block:")
        st.dataframe([{"dialogue": f.dialogue_id, "rule": f.rule, "message": f.message}
                      for f in exc.findings], hide_index=True, width="stretch")
    except CurationError as exc:
        bar.empty()
        show_error(exc)
    else:
        bar.progress(1.0, text=t("releases.done_bar"))
        st.success(md(summary.line()), icon=":material/check_circle:")
        earlier = release_services.list_releases(project, out)

st.subheader(t("releases.earlier"))
if not earlier:
    st.info(t("releases.none"))
for info in earlier:
    counts = ", ".join(f"{k} {v}" for k, v in info.counts.items())
    with st.expander(md(f"{info.version} · {info.created_at} · {counts}")):
        st.caption(md(str(info.path)))
        # The card without its YAML header, which is for the Hub, not for people.
        body = info.card.split("\n---\n", 1)[1] if info.card.startswith("---\n") else info.card
        # The card quotes the project's description, limitations and names (user text): it is
        # shown as its Markdown source, never rendered, so nothing in it can load a remote image.
        st.code(body, language="markdown", wrap_lines=True)
