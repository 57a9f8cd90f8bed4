"""keys.SeenKeys: the one store of keys already seen (ingest, validate, build), exact and on disk."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from corpus_tools.build.writer import NearDuplicates
from corpus_tools.keys import KeyValues, SeenKeys

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=6,
)


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "و", "", "a1"]), JSON_VALUES), max_size=60))
def test_first_gives_back_the_first_row_and_id_as_given(items):
    seen = SeenKeys()
    first: dict[str, tuple[int, object]] = {}
    for row, (key, row_id) in enumerate(items):
        got = seen.first(key, row, row_id)
        expected = first.get(key)
        assert got == expected
        if expected is not None:  # the same value, and the same JSON (True stays True, not 1)
            assert json.dumps(got[1]) == json.dumps(expected[1])
        first.setdefault(key, (row, row_id))
    assert len(seen) == len(first)
    seen.close()


def test_keys_are_compared_exactly():
    seen = SeenKeys()
    assert seen.first("5", 0, "task 1") is None
    assert seen.first("٥", 1) is None  # an Arabic-Indic five is another key
    assert seen.first("5 ", 2) is None
    assert seen.first("5", 3) == (0, "task 1")


def test_ids_that_sqlite_would_change_come_back_unchanged():
    seen = SeenKeys()
    for key, row_id in [("big", 2**70), ("negative zero", -0.0), ("infinite", float("inf")), ("true", True),
                        ("list", [1, "a"]), ("small", -(2**63))]:
        assert seen.first(key, 7, row_id) is None
        row, got = seen.first(key, 8)
        assert row == 7 and got == row_id and type(got) is type(row_id) and repr(got) == repr(row_id)


def test_the_batched_stores_keep_no_journal_sync_nothing_and_use_16_kib_pages():
    """The stores are private temporary databases: durability does not matter, so nothing is journaled or synced,
    and their B-trees of random keys take fewer, larger pages."""
    for store in (KeyValues(), NearDuplicates()):
        settings = [store._db.execute(f"PRAGMA {name}").fetchone()[0]
                    for name in ("journal_mode", "synchronous", "page_size", "cache_size")]
        assert settings == ["off", 0, 16384, -8 * 1024]
        store.close()
