"""The one place where the app turns an error into words on the page.

Pages call services inside ``with reporting():`` (or call :func:`show_error` themselves); a
:class:`~curation_app.errors.CurationError` becomes a titled message in the interface language
with the service's own plain sentence under it, never a traceback. Anything else is a bug and is
left to Streamlit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

import streamlit as st

from curation_app import errors
from curation_app.ui import state
from curation_app.ui.i18n import t
from curation_app.ui.plain import md

_P = ParamSpec("_P")
_T = TypeVar("_T")

# Most specific first: the first class the error is an instance of names its title.
_TITLES: tuple[tuple[type[errors.CurationError], str], ...] = (
    (errors.AuthenticationError, "error.authentication"),
    (errors.PermissionDeniedError, "error.permission"),
    (errors.ConflictError, "error.conflict"),
    (errors.SelectionChangedError, "error.conflict"),
    (errors.NotFoundError, "error.not_found"),
    (errors.AlreadyExistsError, "error.exists"),
    (errors.RateLimitedError, "error.rate_limited"),
    (errors.GenerationTimeoutError, "error.timeout"),
    (errors.ModelServerError, "error.model_server"),
    (errors.ModelOutputError, "error.model_output"),
    (errors.GenerationError, "error.generation"),
    (errors.InvalidInputError, "error.invalid"),
    (errors.UnknownLabelError, "error.invalid"),
    (errors.StorageError, "error.storage"),
    (errors.CurationError, "error.generic"),
)


def describe(exc: errors.CurationError) -> str:
    """The title and sentence shown for ``exc``, in the interface language."""
    title = next(key for cls, key in _TITLES if isinstance(exc, cls))
    return f"**{t(title)}** {md(exc)}"


def show_error(exc: errors.CurationError) -> None:
    st.error(describe(exc), icon=":material/error:")


@contextmanager
def reporting() -> Iterator[None]:
    """Show a CurationError raised inside the block instead of failing the page."""
    try:
        yield
    except errors.CurationError as exc:
        show_error(exc)


def load(read: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """``read(*args, **kwargs)``; on a CurationError, show it and stop drawing the page."""
    try:
        return read(*args, **kwargs)
    except errors.CurationError as exc:
        show_error(exc)
        st.stop()
        raise  # st.stop() does not return; this keeps type checkers honest


def show_flash() -> None:
    """Show (once) the message a previous run left with :func:`state.flash`."""
    found = state.pop_flash()
    if found is None:
        return
    kind, message = found
    {"success": st.success, "info": st.info, "warning": st.warning,
     "error": st.error}.get(kind, st.info)(message)
