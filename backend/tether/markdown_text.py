"""A task's markdown as plain text, for the text part of a mail.

A mail reader that shows the plain part (or a person who reads the source) should see
prose, not markup: markdown-it-py parses the details exactly as for the HTML part, and
its tokens are written out as text — emphasis without its stars, a link as
``text (url)``, list items with ``-`` or their number, code indented, quotes indented.
Raw HTML stays text (``html`` is off, as for the HTML part).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markdown_it.token import Token

_PARSER = MarkdownIt("commonmark", {"html": False})
INDENT = "  "


def _inline(children: list[Token]) -> str:
    """One inline run: text as it reads, each link followed by its address."""
    out: list[str] = []
    links: list[tuple[str, int]] = []  # (href, where its text starts in ``out``)
    for token in children:
        if token.type in ("text", "code_inline", "html_inline"):
            out.append(token.content)
        elif token.type in ("softbreak", "hardbreak"):
            out.append("\n")
        elif token.type == "link_open":
            links.append((str(token.attrGet("href") or ""), len(out)))
        elif token.type == "link_close" and links:
            href, start = links.pop()
            text = "".join(out[start:])
            if href and href != text and href.removeprefix("mailto:") != text:
                out.append(f" ({href})")
        elif token.type == "image":
            alt = "".join(c.content for c in token.children or [])
            src = str(token.attrGet("src") or "")
            out.append(f"{alt} ({src})" if alt else src)
    return "".join(out)


@dataclass(slots=True)
class _List:
    ordered: bool
    number: int = 1
    hang: int = 0  # the width of the current item's marker: its further lines line up


@dataclass(slots=True)
class _Writer:
    lines: list[str] = field(default_factory=list)
    lists: list[_List] = field(default_factory=list)
    quotes: int = 0
    marker: str | None = None  # the next line's list marker, once

    def indent(self, levels: list[_List]) -> str:
        return INDENT * self.quotes + "".join(" " * level.hang for level in levels)

    def write(self, text: str) -> None:
        for line in text.split("\n"):
            if self.marker is not None:
                self.lines.append(self.indent(self.lists[:-1]) + self.marker + line)
                self.marker = None
            else:
                self.lines.append(self.indent(self.lists) + line)

    def blank(self) -> None:
        if self.lines and self.lines[-1] != "":
            self.lines.append("")

    def lists_at(self, token: Token) -> None:
        """A list opens or closes, or an item starts (its marker goes on its first line)."""
        kind = token.type
        if kind == "bullet_list_open":
            self.lists.append(_List(ordered=False))
        elif kind == "ordered_list_open":
            self.lists.append(_List(ordered=True, number=int(token.attrGet("start") or 1)))
        elif kind in ("bullet_list_close", "ordered_list_close"):
            self.lists.pop()
            if not self.lists:
                self.blank()
        elif kind == "list_item_open" and self.lists:
            current = self.lists[-1]
            self.marker = f"{current.number}. " if current.ordered else "- "
            current.hang = len(self.marker)
            current.number += 1

    def block(self, token: Token) -> None:
        kind = token.type
        if kind == "inline":
            self.write(_inline(token.children or []))
        elif kind in ("paragraph_close", "heading_close"):
            if not token.hidden:  # a tight list's paragraphs have no blank line between
                self.blank()
        elif kind.endswith("list_open") or kind.endswith("list_close") or kind == "list_item_open":
            self.lists_at(token)
        elif kind in ("fence", "code_block"):
            lines = token.content.rstrip("\n").split("\n")
            self.write("\n".join(INDENT * 2 + line for line in lines))
            self.blank()
        elif kind == "blockquote_open":
            self.quotes += 1
        elif kind == "blockquote_close":
            self.quotes -= 1
            self.blank()
        elif kind == "hr":
            self.blank()


def markdown_text(source: str) -> str:
    """``source`` (CommonMark) as readable plain text, without markup characters."""
    writer = _Writer()
    for token in _PARSER.parse(source):
        writer.block(token)
    while writer.lines and writer.lines[-1] == "":
        writer.lines.pop()
    return "\n".join(line.rstrip() for line in writer.lines)


