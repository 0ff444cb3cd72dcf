"""User-supplied text on the page is shown as text: never Markdown, never HTML.

Streamlit renders Markdown in ``st.markdown``, ``st.caption``, ``st.info`` / ``success`` /
``warning`` / ``error``, titles and widget labels. Dialogue text, topics, descriptions, comments,
user and project names and error messages (which quote input) can hold ``**``, links, or a
Markdown image, which the browser would fetch from any host. Every page puts such text through
:func:`md` (or :func:`t_md` for interface strings with values) before a Markdown sink; long
text goes to ``st.text`` or escaped HTML (:mod:`curation_app.ui.components`) instead.

Escaping is not enough for bare addresses: Streamlit's Markdown (remark-gfm) turns
``https://…``, ``www.…`` and ``name@host`` into links after escapes are resolved. A word joiner
(U+2060, invisible and unbreakable) after the scheme's ``:``, after ``www`` and before ``@``
leaves nothing its autolinker matches (it needs ``http(s)://`` and ``www.`` exactly, and a
letter, digit or one of ``-._+`` right before ``@``), so such text reads the same and links
nowhere.
"""

from __future__ import annotations

import re

from curation_app.ui.i18n import t

# Every ASCII punctuation character may be backslash-escaped in CommonMark; escaping them all
# leaves no emphasis, link, image, code, heading, list, table, HTML tag, math ($) or
# Streamlit directive (:red[…], :material/…:) for the text to start.
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
WORD_JOINER = "\u2060"
# what GFM's autolink literals start from: a scheme's "://", "www." (any case) and "@"
_AUTOLINK_STARTS = re.compile(r"(?<=:)(?=//)|(?<=www)(?=\.)|(?=@)", re.IGNORECASE)


def md(value: object) -> str:
    """``value`` as Markdown source that renders as exactly its text."""
    text = _AUTOLINK_STARTS.sub(WORD_JOINER, str(value))
    text = _PUNCTUATION.sub(r"\\\1", text)
    return text.replace("\r\n", "\n").replace("\n", "  \n")  # keep line breaks as breaks


def t_md(key: str, **values: object) -> str:
    """The interface string ``key`` with each value escaped by :func:`md`."""
    return t(key, **{name: md(value) for name, value in values.items()})
