"""Users page (leads): the accounts and their roles; add a user, set a password."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from curation_app.errors import CurationError
from curation_app.services import audit, users
from curation_app.services.permissions import UserRole
from curation_app.ui import layout, readers, state
from curation_app.ui.feedback import load, show_error
from curation_app.ui.i18n import t
from curation_app.ui.labels import shown
from curation_app.ui.plain import t_md

actor = layout.require_actor(layout.start())
st.title(t("users.title"))

accounts = load(readers.user_list, actor)
elsewhere: dict[str, list[str]] = {}
for grant in load(readers.project_roles, actor):
    elsewhere.setdefault(grant.user, []).append(
        t("users.in_project", role=t(f"role.{grant.role}"), project=grant.project))
st.dataframe(pd.DataFrame([
    {t("users.name"): u.name, t("users.role"): t(f"role.{u.role}"),
     t("users.project_roles"): ", ".join(elsewhere.get(u.name, [])),
     t("users.sign_in"): t("users.password") if u.password_hash else t("users.oidc_only")}
    for u in accounts]), hide_index=True, width="stretch")

roles = [str(r) for r in UserRole]
left, right = st.columns(2)
with left, st.form("users.add_form", clear_on_submit=True):
    st.subheader(t("users.add"))
    name = st.text_input(t("users.name"), key="users.new_name")
    role = st.selectbox(t("users.role"), roles, format_func=shown(roles, lambda r: t(f"role.{r}")),
                        key="users.new_role")
    password = st.text_input(t("users.new_password"), type="password", key="users.new_password",
                             help=t("users.password_help"))
    add = st.form_submit_button(t("users.add_go"), icon=":material/person_add:")
if add:
    try:
        made = users.add_user(readers.context(), actor, name, role, password or None)
    except CurationError as exc:
        show_error(exc)
    else:
        readers.clear()
        state.flash(t_md("users.added", name=made.name, role=t(f"role.{made.role}")))
        st.rerun()

with right, st.form("users.password_form", clear_on_submit=True):
    st.subheader(t("users.set_password"))
    who = st.selectbox(t("users.name"), [u.name for u in accounts], key="users.pw_name")
    new = st.text_input(t("users.new_password"), type="password", key="users.pw_value")
    change = st.form_submit_button(t("users.set_go"), icon=":material/key:")
if change:
    try:
        users.set_password(readers.context(), actor, who, new)
    except CurationError as exc:
        show_error(exc)
    else:
        state.flash(t_md("users.password_set", name=who))
        st.rerun()


# ---- role changes and removal (the account's sessions end), and the audit log ------------------
left, right = st.columns(2)
with left, st.form("users.role_form"):
    st.subheader(t("users.change_role"))
    target = st.selectbox(t("users.name"), [u.name for u in accounts], key="users.role_name")
    new_role = st.selectbox(t("users.role"), roles, key="users.role_value",
                            format_func=shown(roles, lambda r: t(f"role.{r}")))
    set_role = st.form_submit_button(t("users.change_role_go"), icon=":material/badge:")
    remove = st.form_submit_button(t("users.remove_go"), icon=":material/person_remove:")
if set_role or remove:
    try:
        if remove:
            users.delete_user(readers.context(), actor, target)
        else:
            users.set_role(readers.context(), actor, target, new_role)
    except CurationError as exc:
        show_error(exc)
    else:
        readers.clear()
        state.flash(t_md("users.removed" if remove else "users.role_changed", name=target,
                         role=t(f"role.{new_role}")))
        st.rerun()

# ---- a role in one project (a lead of one project may annotate another) ------------------------
with left, st.form("users.project_role_form"):
    st.subheader(t("users.project_role"), help=t("users.project_role_help"))
    member = st.selectbox(t("users.name"), [u.name for u in accounts], key="users.pr_name")
    in_project = st.selectbox(t("users.project"), load(readers.project_names),
                              key="users.pr_project")
    project_role = st.selectbox(t("users.role"), roles, key="users.pr_role",
                                format_func=shown(roles, lambda r: t(f"role.{r}")))
    set_here = st.form_submit_button(t("users.project_role_go"), icon=":material/badge:")
    clear_here = st.form_submit_button(t("users.project_role_clear"),
                                       icon=":material/undo:")
if (set_here or clear_here) and in_project:
    try:
        users.set_project_role(readers.context(), actor, member, in_project,
                               None if clear_here else project_role)
    except CurationError as exc:
        show_error(exc)
    else:
        readers.clear()
        state.flash(t_md("users.project_role_cleared" if clear_here else
                         "users.project_role_set", name=member, project=in_project,
                         role=t(f"role.{project_role}")))
        st.rerun()

with right:
    st.subheader(t("audit.title"))
    f_user, f_action = st.columns(2)
    who_filter = f_user.text_input(t("audit.user"), key="audit.user")
    action_filter = f_action.text_input(t("audit.action"), key="audit.action",
                                        help=t("audit.action_help"))
    found = load(audit.events, readers.context(), actor, user=who_filter.strip() or None,
                 action=action_filter.strip() or None, limit=200)
    st.dataframe(pd.DataFrame([
        {t("audit.when"): e.created_at.strftime("%Y-%m-%d %H:%M:%S"),
         t("audit.user"): e.actor or "", t("audit.action"): e.action,
         t("audit.target"): e.target or "", t("audit.address"): e.address or "",
         t("audit.detail"): ", ".join(f"{k}={v}" for k, v in e.detail.items())}
        for e in found], columns=[t(f"audit.{c}") for c in
                                  ("when", "user", "action", "target", "address", "detail")]),
        hide_index=True, width="stretch", height=300)
