"""Session ids tell when they were made; strings that are not ids tell nothing."""

from __future__ import annotations

import time

from tether.sessions import new_session_id, session_id_time


def test_a_session_id_tells_when_it_was_made() -> None:
    before = time.time()
    made = session_id_time(new_session_id())
    assert made is not None
    assert int(before * 1000) / 1000 <= made <= time.time()


def test_strings_that_cannot_be_session_ids_tell_nothing() -> None:
    for text in ("", "abc", "0x" + "0" * 26, "0_" + "0" * 26, " " + "0" * 27,
                 "G" * 28, "0" * 29, "ABCDEF" + "0" * 22):
        assert session_id_time(text) is None, text
