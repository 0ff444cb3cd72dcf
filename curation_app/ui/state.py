"""Session-state keys of the app, namespaced by page, and the binding of widgets to them.

Every key the app stores lives here as a constant, so pages cannot collide and a test can set or
read state by name. Values that must outlive a page switch (the working copy of an edit, the
chosen project) are kept under these keys, never only in a widget's own state: Streamlit drops a
widget's state when a run does not draw it. :func:`bind` gives a widget a key of its own that is
refilled from the stored value before every draw and copied back by ``on_change``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

# ---- sign-in ---------------------------------------------------------------------------------
AUTH_ACTOR = "auth.actor"  # the signed-in Actor, or None
AUTH_VIA = "auth.via"  # "password", "cookie" or "oidc"
AUTH_TOKEN = "auth.token"  # signed token the browser cookie should hold, or None
AUTH_SIGNED_OUT = "auth.signed_out"  # True after sign-out: ignore the stale request cookie
AUTH_REFUSED = "auth.refused"  # the error for an identity-provider sign-in without an account

# ---- whole app -------------------------------------------------------------------------------
LANGUAGE = "ui.language"  # "en" or "zh"
PROJECT = "ui.project"  # the project every page works on
FLASH = "ui.flash"  # (kind, message) to show once after a rerun

# ---- pages -----------------------------------------------------------------------------------
EDITOR_DIALOGUE = "editor.dialogue_id"
EDITOR_WORK = "editor.work"  # {dialogue id: WorkingCopy}, the unsaved edits
EDITOR_CONFLICT = "editor.conflict"  # {dialogue id: (your version, current version)}
EDITOR_CONFIRM = "editor.confirm"  # {dialogue id: what a refused destructive save would remove}
EDITOR_GEN = "editor.generation"  # bumped when the editor is entered again: fresh text boxes
EDITOR_SAVE_ASKED = "editor.save_asked"  # dialogue id whose save Ctrl+S asked for, or None
GENERATE_RESULT = "generate.result"  # summary of the last single draft
GENERATE_STREAMED = "generate.streamed"  # the text streamed for the last single draft
REVIEW_DIALOGUE = "review.dialogue_id"
CHECKS_KINDS = "checks.kinds"  # the kinds of check the next run covers
CHECKS_FILTER_KINDS = "checks.filter_kinds"  # findings table filters: empty means all
CHECKS_FILTER_RULES = "checks.filter_rules"
CHECKS_FILTER_SEVERITIES = "checks.filter_severities"
CHECKS_FILTER_TEXT = "checks.filter_text"
CHECKS_OPEN = "checks.open_id"  # the dialogue to open in the editor from the findings
CHECKS_RULES_SHOWN = "checks.rules_shown"  # the settings the rule form was last filled from
RATINGS_CAMPAIGN = "ratings.campaign_id"  # the campaign the Ratings page shows
RATINGS_ITEM = "ratings.item"  # the rater's item number (from 1) within it
RATINGS_COMPARE = "ratings.compare"  # (group A, group B) the lead compares
ADJUDICATION_GROUP = "adjudication.original_id"  # the overlap group (its original's id)

DEFAULTS: dict[str, Callable[[], Any]] = {
    AUTH_ACTOR: lambda: None,
    AUTH_VIA: lambda: None,
    AUTH_TOKEN: lambda: None,
    AUTH_SIGNED_OUT: lambda: False,
    AUTH_REFUSED: lambda: None,
    LANGUAGE: lambda: None,
    PROJECT: lambda: None,
    FLASH: lambda: None,
    EDITOR_DIALOGUE: lambda: None,
    EDITOR_WORK: dict,
    EDITOR_CONFLICT: dict,
    EDITOR_CONFIRM: dict,
    EDITOR_SAVE_ASKED: lambda: None,
    EDITOR_GEN: lambda: 0,
    GENERATE_RESULT: lambda: None,
    GENERATE_STREAMED: lambda: "",
    REVIEW_DIALOGUE: lambda: None,
    CHECKS_KINDS: lambda: ["format", "lint", "dedup", "safety", "privacy"],
    CHECKS_FILTER_KINDS: list,
    CHECKS_FILTER_RULES: list,
    CHECKS_FILTER_SEVERITIES: list,
    CHECKS_FILTER_TEXT: lambda: "",
    CHECKS_OPEN: lambda: None,
    CHECKS_RULES_SHOWN: lambda: None,
    RATINGS_CAMPAIGN: lambda: None,
    RATINGS_ITEM: lambda: 1,
    RATINGS_COMPARE: lambda: None,
    ADJUDICATION_GROUP: lambda: None,
}


def init(*keys: str) -> None:
    """Give each key its default if this session has not set it yet."""
    for key in keys or tuple(DEFAULTS):
        if key not in st.session_state:
            st.session_state[key] = DEFAULTS[key]()


def get(key: str) -> Any:
    return st.session_state.get(key, DEFAULTS[key]() if key in DEFAULTS else None)


def put(key: str, value: Any) -> None:
    st.session_state[key] = value


def widget_key(key: str) -> str:
    return f"w:{key}"


def _copy_back(key: str, store: Callable[[Any], None] | None) -> None:
    value = st.session_state[widget_key(key)]
    if store is not None:
        store(value)
    else:
        st.session_state[key] = value


def bind(key: str, value: Any, *, store: Callable[[Any], None] | None = None,
         options: Sequence[Any] | None = None, typed: bool = False) -> dict[str, Any]:
    """Keyword arguments that tie a widget to a stored ``value`` under ``key``.

    The widget's own key is refilled from ``value`` before it is drawn and written back
    (through ``store``, or into ``st.session_state[key]``) when the user changes it. With
    ``options``, a value that is no longer offered falls back to the first option.

    A refilled value is sent to the browser. For a select box that is what keeps it right when
    its option labels change (a status in the label); for a field people type in (``typed``)
    it is sent only when it differs, so a run cannot overwrite what someone is typing there.
    """
    if options is not None and value not in options:
        value = options[0] if options else None
        if store is None:
            st.session_state[key] = value
    wkey = widget_key(key)
    if not typed or wkey not in st.session_state or st.session_state[wkey] != value:
        st.session_state[wkey] = value
    return {"key": wkey, "on_change": _copy_back, "args": (key, store)}


def flash(message: str, kind: str = "success") -> None:
    """A message for the next run (after ``st.rerun`` or a page switch)."""
    st.session_state[FLASH] = (kind, message)


def pop_flash() -> tuple[str, str] | None:
    value = st.session_state.get(FLASH)
    st.session_state[FLASH] = None
    return value
