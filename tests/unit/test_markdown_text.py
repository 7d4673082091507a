"""The plain-text part of a mail: a task's markdown written out as prose."""

from __future__ import annotations

from tether.markdown_text import markdown_text


def test_emphasis_code_and_links_read_as_text() -> None:
    text = markdown_text(
        "Pay **120 EUR** to [ACME](https://acme.example/i), see <https://x.example>;"
        " run `make`.\nSecond *line*."
    )
    assert text == (
        "Pay 120 EUR to ACME (https://acme.example/i), see https://x.example; run make.\n"
        "Second line."
    )


def test_lists_headings_quotes_and_code() -> None:
    source = (
        "# Order\n\n- one\n- two\n  - nested\n    over two lines\n\n1. first\n2. second\n\n"
        "> quoted **text**\n\n```\nraw <b>code</b>\n```\n\n---\nend ![logo](https://i.example/a.png)"
    )
    assert markdown_text(source).split("\n") == [
        "Order", "",
        "- one", "- two", "  - nested", "    over two lines", "",
        "1. first", "2. second", "",
        "  quoted text", "",
        "    raw <b>code</b>", "",
        "end logo (https://i.example/a.png)",
    ]


def test_raw_html_stays_text_and_nothing_is_marked_up() -> None:
    text = markdown_text("<script>alert(1)</script>\n\n_a_ __b__ ~c~")
    assert text == "<script>alert(1)</script>\n\na b ~c~"
