"""User text renders as exactly itself in Markdown: no emphasis, link, image, HTML or directive."""

from __future__ import annotations

import re

import pytest
from markdown_it import MarkdownIt

from curation_app.ui.plain import WORD_JOINER, md

HOSTILE = [
    "**bold** _it_ `code` ~~del~~",
    "![x](http://example.invalid/x.png) [l](http://example.invalid) <http://example.invalid>",
    "<script>alert(1)</script><img src=x onerror=alert(2)>",
    "# heading\n- item\n1. one\n> quote\n---",
    ":red[colour] :material/forum: $x^2$ | a | b |",
    "back\\slash \\*not bold\\* 3.5 C:\\path",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_text_renders_as_a_paragraph_of_itself(text):
    html = MarkdownIt("commonmark").render(md(text))
    assert "<img" not in html and "<a " not in html and "<strong>" not in html
    assert "<script" not in html and "<h1>" not in html and "<li>" not in html
    assert "<em>" not in html and "<code>" not in html and "<blockquote>" not in html
    # the words are all there, in order, as text
    rendered = MarkdownIt("commonmark").parseInline(md(text))[0].children
    shown = "".join(c.content if c.type == "text" else "\n" for c in rendered)
    shown = shown.replace(WORD_JOINER, "")
    assert shown.replace("\n", "") == text.replace("\n", "")


# remark-gfm's autolink-literal patterns, as Streamlit's Markdown bundle applies them to text
# once escapes are resolved (mdast-util-gfm-autolink-literal; Python has no \p{P}, so the e-mail
# pattern here matches more than the original, never less)
GFM_URL = re.compile(r"(https?://|www(?=\.))([-.\w]+)([^ \t\r\n]*)", re.IGNORECASE)
GFM_EMAIL = re.compile(r"([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)", re.ASCII)
BARE = ["https://evil.example/x", "see http://evil.example.", "HTTPS://EVIL.EXAMPLE",
        "www.evil.example", "(WWW.evil.example/a)", "a@evil.example", "mailto:a.b+c@evil.example",
        "请访问www.evil.example或写信给a@evil.example", "ftp://x.example //no-scheme @alone"]


def _resolved(markdown: str) -> str:
    """The text the autolinker sees: backslash escapes resolved."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)


@pytest.mark.parametrize("text", BARE)
def test_bare_addresses_are_not_autolinked_and_read_the_same(text):
    shown = _resolved(md(text))
    assert not GFM_URL.search(shown) and not GFM_EMAIL.search(shown), shown
    assert shown.replace(WORD_JOINER, "") == text  # only invisible word joiners were added
    html = MarkdownIt("commonmark").render(md(text))
    assert "<a " not in html
