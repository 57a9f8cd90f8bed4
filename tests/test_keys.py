"""keys.SeenKeys: the one store of keys already seen (ingest, validate, build), exact and on disk."""

from __future__ import annotations

import json

from hypothesis import given, settings
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


OPERATIONS = st.lists(st.one_of(
    st.tuples(st.just("put"), st.lists(st.sampled_from(["a", "b", "و", "", b"a", b"\x00"]), max_size=4),
              st.booleans(), st.integers(0, 2)),
    st.tuples(st.just("forget"), st.integers(0, 2)),
), max_size=30)


@settings(max_examples=300, deadline=None)
@given(OPERATIONS)
def test_a_tagged_store_across_merges_answers_as_a_dict(operations):
    """Keys staged and merged into the large table every 3 keys: the values, replacements, forgotten tags and the
    order of items are those of a dict of key → (value, tag)."""
    import corpus_tools.keys as keys_module

    old = keys_module.STAGED_ROWS
    keys_module.STAGED_ROWS = 3
    try:
        store = KeyValues(tagged=True)
        reference: dict = {}
        for step, operation in enumerate(operations):
            if operation[0] == "forget":
                store.forget(operation[1])
                reference = {k: v for k, v in reference.items() if v[1] != operation[1]}
                continue
            _, keys, replace, tag = operation
            store.put_many([(key, (step, "v")) for key in keys], replace=replace, tag=tag)
            for key in keys:
                if replace or key not in reference:
                    reference[key] = ((step, "v"), tag)
            assert store.get_many(["a", "b", "و", "", b"a", b"\x00", "absent"]) == {
                k: v for k, (v, _) in reference.items()}
        expected = sorted(k for k in reference if isinstance(k, str)) + sorted(
            k for k in reference if isinstance(k, bytes))
        assert list(store.items()) == [(k, reference[k][0]) for k in expected]
        store.close()
    finally:
        keys_module.STAGED_ROWS = old


def test_staged_keys_are_merged_into_the_large_table():
    import corpus_tools.keys as keys_module

    store = KeyValues()
    for first, count in ((0, keys_module.STAGED_ROWS - 1), (keys_module.STAGED_ROWS - 1, 6)):
        store.first_many([f"k{n}" for n in range(first, first + count)], [(n, None) for n in range(first,
                                                                                                   first + count)])
    counts = [store._db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in ("kv", "staged")]
    assert counts == [keys_module.STAGED_ROWS + 5, 0]  # merged when the staged table filled
    store.put_many([("k0", (7, None)), ("z", (8, None))], replace=False)
    assert [store._db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in ("kv", "staged")] == [
        keys_module.STAGED_ROWS + 5, 2]
    assert store.get_many(["k0", f"k{keys_module.STAGED_ROWS + 4}", "k-1"]) == {
        "k0": (0, None), f"k{keys_module.STAGED_ROWS + 4}": (keys_module.STAGED_ROWS + 4, None)}
    store.close()


@given(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=50), st.lists(st.integers(-(2**63), 2**63 - 1),
                                                                         max_size=50))
def test_a_key_bit_set_never_rules_out_a_key_it_was_given(added, others):
    import numpy as np

    from corpus_tools.keys import KeyBits

    bits = KeyBits(12)
    bits.add(np.array(added, dtype=np.int64))
    assert bits.maybe(np.array(added + others, dtype=np.int64))[:len(added)].all()
    assert not KeyBits(12).maybe(np.array(others, dtype=np.int64)).any()
