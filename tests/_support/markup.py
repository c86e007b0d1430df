"""The HTML the product may emit, as a browser's tokenizer sees it: only these tags, attributes and styles."""

from __future__ import annotations

import re
from html.parser import HTMLParser

PRODUCT_TAGS = {"div", "span", "code", "style"}
PRODUCT_ATTRS = {"class", "role", "title", "aria-hidden", "aria-label", "data-status", "style", "tabindex"}
SAFE_STYLE = re.compile(r"^(?:\s*[a-z-]+\s*:\s*[#\w\s.,%()-]+;?)*\s*$")


class TagCollector(HTMLParser):
    """Every tag, attribute and text piece of an HTML string, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []
        self.style_text: list[str] = []
        self.other: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        self._in_style = tag == "style"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        (self.style_text if self._in_style else self.text).append(data)

    def handle_comment(self, data: str) -> None:
        self.other.append(f"comment:{data}")

    def handle_decl(self, decl: str) -> None:
        self.other.append(f"decl:{decl}")

    def handle_pi(self, data: str) -> None:
        self.other.append(f"pi:{data}")

    def unknown_decl(self, data: str) -> None:
        self.other.append(f"unknown:{data}")


def check_html(
    markup: str, *, tags: set[str] = PRODUCT_TAGS, attrs: set[str] = PRODUCT_ATTRS
) -> TagCollector:
    """Parse ``markup``; fail on any tag, attribute, style value or markup the product doesn't emit."""
    parser = TagCollector()
    parser.feed(markup)
    parser.close()
    for tag, tag_attrs in parser.tags:
        assert tag in tags, f"unexpected tag <{tag}> {tag_attrs}"
        for name, value in tag_attrs:
            assert name in attrs, f"unexpected attribute {name}={value!r} on <{tag}>"
            if name == "style":
                assert value is not None and SAFE_STYLE.match(value), f"unexpected style {value!r}"
                assert "url" not in value.lower() and "expression" not in value.lower(), value
    assert not parser.other, f"comments/declarations from output: {parser.other[:3]}"
    return parser


# -- hostile output, and what of it must still show as text --------------------------------------

LINE_TAGS = {"span"}
LINE_ATTRS = {"class", "style"}

HOSTILE = {
    "invalid-utf8": b"a\xff\xfeb\n\x80\n\xc3(\n",
    "nul-bytes": b"a\x00b\x00<c>\x00\n",
    "osc-title": b"\x1b]0;<script>alert(1)</script>\x07after-title\n",
    "osc8-link": b"\x1b]8;;http://evil\x07link\x1b]8;;\x07\n",
    "osc8-link-st": b"\x1b]8;;javascript:alert(1)\x1b\\link\x1b]8;;\x1b\\\n",
    "osc8-link-split": b"\x1b]8;;http://evil\x1b[K\x07link\x1b]8;;\x1b[K\x07\n",
    "osc8-link-quote": b'\x1b]8;;http://e"><img src=x onerror=alert(1)>\x07x\x1b]8;;\x07\n',
    "osc-unterminated": b"\x1b]8;;http://evil\nlink\x07 end\n",
    "cursor-moves": b"\x1b[2J\x1b[H\x1b[10;10Hmoved\x1b[K\x1b[?1049h\x1b[1A\x1b[2K\x1bc\x1b7\x1b8\n",
    "backspaces": b"abc\b\b\bXYZ\b\b\b<script>\n",
    "script": b"<script>alert(1)</script>\n",
    "img-onerror": b'<img src=x onerror="alert(1)">\n',
    "tag-closing": b'</div></div></span></code></style><div onclick="alert(1)">x\n',
    "javascript-url": b'<a href="javascript:alert(1)">x</a> javascript:alert(1)\n',
    "style-tag": b"<style>*{display:none}</style>\n",
    "comments": b"<!-- x --><![CDATA[ y ]]><?php ?><!DOCTYPE html>\n",
    "entities": b"&lt;script&gt; &amp; &#x3C;img&#62;\n",
    "ansi-around-html": b"\x1b[31m<script>alert(1)</script>\x1b[0m\n",
    "truecolor": b"\x1b[38;2;255;0;0m\x1b[48;5;196mx\x1b[0m \x1b[38;2;1;2;3;4;5m y\n",
    "carriage-return": b"<scr\ript>\r\n",
    "box-drawing": b"\x1b(0lqqk<\x1b(B>\n",
}
LITERALS = {
    "script": "<script>alert(1)</script>",
    "img-onerror": '<img src=x onerror="alert(1)">',
    "tag-closing": '</div></div></span></code></style><div onclick="alert(1)">x',
    "javascript-url": '<a href="javascript:alert(1)">x</a>',
    "style-tag": "<style>*{display:none}</style>",
    "entities": "&lt;script&gt; &amp; &#x3C;img&#62;",
    "ansi-around-html": "<script>alert(1)</script>",
    "nul-bytes": "<c>",
}
