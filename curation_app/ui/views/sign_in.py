"""Sign-in page: user name and password, or the organisation's identity provider (OIDC)."""

from __future__ import annotations

import streamlit as st

from curation_app.errors import CurationError
from curation_app.ui import auth, layout, state
from curation_app.ui.feedback import show_error
from curation_app.ui.i18n import t

layout.start(state.AUTH_REFUSED)
st.title(t("app.title"))
st.caption(t("auth.intro"))

refused = state.get(state.AUTH_REFUSED)
if refused is not None:
    show_error(refused)
    if st.button(t("auth.oidc_sign_out"), key="sign_in.oidc_sign_out"):
        st.logout()

with st.form("sign_in.form"):
    name = st.text_input(t("auth.user_name"), key="sign_in.name")
    password = st.text_input(t("auth.password"), type="password", key="sign_in.password")
    submitted = st.form_submit_button(t("auth.sign_in"), type="primary",
                                      icon=":material/login:")
if submitted:
    try:
        auth.sign_in(name, password)
    except CurationError as exc:
        show_error(exc)
    else:
        st.rerun()

providers = auth.oidc_providers()
if providers:
    st.divider()
    st.caption(t("auth.oidc_intro"))
    for provider in providers:
        label = t("auth.oidc_button") if provider is None else \
            t("auth.oidc_button_named", provider=provider)
        if st.button(label, key=f"sign_in.oidc.{provider or 'default'}",
                     icon=":material/badge:"):
            auth.start_oidc(provider)
