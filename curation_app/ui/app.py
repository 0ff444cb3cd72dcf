"""Entry page of the web app: the projects in the database and their dialogue counts.

The annotation pages arrive with the app issue; until then this page proves the app runs on the
configured database. Run with ``curation serve``.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from curation_app.errors import CurationError
from curation_app.services import projects as project_services
from curation_app.services.context import AppContext
from curation_app.store.db import database_url, is_up_to_date, redact


@st.cache_resource
def app_context() -> AppContext:
    return AppContext.from_url()


@st.cache_data(ttl=5)
def project_table() -> pd.DataFrame:
    rows = project_services.list_projects(app_context().uow())
    table = pd.DataFrame(
        [
            {"project": r.name, "preset": r.preset, "language": r.language,
             "dialogues": r.dialogues, "turns": r.turns,
             **{f"status: {k}": v for k, v in r.by_status.items()}}
            for r in rows
        ],
        columns=None if rows else ["project", "preset", "language", "dialogues", "turns"],
    )
    return table.fillna(0)


def main() -> None:
    st.set_page_config(page_title="Dialogue curation", layout="wide")
    st.title("Dialogue curation")
    st.caption(f"Database: {redact(database_url())}")
    ctx = app_context()
    if not is_up_to_date(ctx.engine):
        st.error("The database is not initialised. Run `curation init --demo` and reload.")
        return
    try:
        table = project_table()
    except CurationError as exc:
        st.error(str(exc))
        return
    st.subheader("Projects")
    if table.empty:
        st.info("No projects yet. Create one with `curation projects create NAME --preset …`.")
        return
    st.dataframe(table, hide_index=True, width="stretch")
    st.metric("Dialogues in all projects", int(table["dialogues"].sum()))


main()
