"""Entry point of the web app (``curation serve`` runs ``streamlit run`` on this file).

Each run: set up the page, find who is signed in (session, cookie or OIDC), offer the pages
that user's role in the selected project may use, and run the chosen one. The pages live in
``views/`` (not ``pages/``, which Streamlit would take for an old-style page folder and run
without this script); each starts with :func:`curation_app.ui.layout.start` (its state keys,
the sidebar) and then draws itself.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from curation_app.store.db import database_url, redact
from curation_app.ui import auth, layout, readers, state
from curation_app.ui.feedback import load
from curation_app.ui.i18n import t

# A bundled image, not a ":material/…:" icon: Streamlit fetches those favicons from Google's
# font host, and the app must work (and leak nothing) offline.
FAVICON = Path(__file__).with_name("favicon.png")
st.set_page_config(page_title="Dialogue curation", page_icon=str(FAVICON), layout="wide")
state.init()

if not load(readers.database_ready):  # an unreadable database: its true cause, not a traceback
    st.error(t("app.not_initialised", url=redact(database_url())))
    st.stop()

actor, refused = auth.current_actor()
state.put(state.AUTH_REFUSED, refused)
layout.navigation(actor).run()
