"""The Action's job summary line for a push whose commit was indexed already: what the index holds,
not "0 functions" (issue 12: a no-op index reported nothing of the 761 functions it held)."""

from __future__ import annotations

from bot.action import index_note


def test_a_noop_index_note_says_what_the_index_holds() -> None:
    note = index_note({"mode": "noop", "held": 761, "functions": 0, "embedded": 0, "cache_hits": 0, "seconds": 0.01})
    assert note == "index already at this commit: it holds 761 functions, nothing embedded"


def test_a_built_index_note_keeps_its_counts() -> None:
    note = index_note({"mode": "full", "held": 12, "functions": 12, "embedded": 10, "cache_hits": 2, "seconds": 1.5})
    assert note == "index built: 12 functions, 10 embedded, 2 from the embedding cache, 1.5 s"
