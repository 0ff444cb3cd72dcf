"""User text renders as exactly itself in Markdown: no emphasis, link, image, HTML or directive."""

from __future__ import annotations

import pytest
from markdown_it import MarkdownIt

from curation_app.ui.plain import md

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
    assert shown.replace("\n", "") == text.replace("\n", "")
