"""corpus_tools.columns against pyarrow's own conversions and a dict lookup."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corpus_tools.columns import find_in_rows, int_values, ints, parents

TYPES = [pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint32()]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(TYPES), st.lists(st.one_of(st.none(), st.integers(0, 100))), st.integers(0, 5),
       st.integers(0, 5))
def test_int_values_equal_to_pylist(kind, values, cut_front, cut_back):
    array = pa.array(values, type=kind)
    array = array.slice(min(cut_front, len(array)), max(0, len(array) - cut_front - cut_back))  # offsets too
    expected = array.to_pylist()
    got, valid = int_values(array)
    assert got.dtype == np.int64 and len(got) == len(expected)
    if valid is None:
        assert None not in expected
        assert got.tolist() == expected
    else:
        assert valid.tolist() == [v is not None for v in expected]
        assert got[valid].tolist() == [v for v in expected if v is not None]
    assert ints(array, null=-7).tolist() == [-7 if v is None else v for v in expected]


def test_other_types_are_refused():
    with pytest.raises(TypeError):
        int_values(pa.array(["a"]))


def test_parents_of_a_list_array():
    assert parents(pa.array([[1, 2], [], [3]])).tolist() == [0, 0, 2]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.one_of(st.none(), st.sampled_from(["a", "b", "c", "ب"])))),
       st.lists(st.tuples(st.integers(0, 4), st.one_of(st.none(), st.sampled_from(["a", "b", "d", "ب"])))))
def test_find_in_rows_is_the_last_equal_pair(items, queries):
    last = {}
    for j, key in enumerate(items):
        if key[1] is not None:
            last[key] = j
    expected = [last.get(q, -1) if q[1] is not None else -1 for q in queries]
    rows = np.array([r for r, _ in items], dtype=np.int64)
    query_rows = np.array([r for r, _ in queries], dtype=np.int64)
    got = find_in_rows(rows, pa.array([i for _, i in items], pa.string()), query_rows,
                       pa.array([i for _, i in queries], pa.string()))
    assert got.tolist() == expected


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(st.sampled_from(list("مصر😀 \r\na"))))), st.integers(0, 3))
def test_sha256_each_hashes_each_strings_utf8(values, cut):
    import hashlib

    from corpus_tools.columns import sha256_each, string_buffers

    array = pa.array(values, pa.string())
    array = array.slice(min(cut, len(array)))
    expected = [hashlib.sha256((v or "").encode("utf-8")).digest() for v in array.to_pylist()]
    assert sha256_each(array) == expected
    if not array.null_count:
        offsets, data = string_buffers(array)
        assert [data[a:b].tobytes().decode("utf-8") for a, b in zip(offsets[:-1], offsets[1:], strict=True)] \
            == array.to_pylist()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4))), st.data(), st.sampled_from([np.uint32, np.int64]))
def test_gather_pieces_is_the_slices_joined(pieces, data, dtype):
    from corpus_tools.columns import gather_pieces

    starts, ends, at = [], [], 0
    for gap, size in pieces:  # pieces that follow each other, gaps between them
        starts.append(at + gap)
        ends.append(at + gap + size)
        at = ends[-1]
    values = np.arange(100, 100 + at + data.draw(st.integers(0, 3)), dtype=dtype)
    which = data.draw(st.none() | st.lists(st.integers(0, len(pieces) - 1)) if pieces else st.none())
    picked = range(len(pieces)) if which is None else which
    expected = [v for j in picked for v in values[starts[j]:ends[j]].tolist()]
    got = gather_pieces(values, np.array(starts, dtype=np.int64), np.array(ends, dtype=np.int64),
                        None if which is None else np.array(which, dtype=np.int64))
    assert got.dtype == dtype and got.tolist() == expected


@given(st.one_of(st.binary(max_size=12), st.text(st.sampled_from(list("مصر😀 \r\na")), max_size=12).map(str.encode)))
def test_code_points_of_utf8_or_none(raw):
    from corpus_tools.columns import code_points, utf8_text

    try:
        expected = raw.decode("utf-8")
    except UnicodeDecodeError:
        expected = None
    data = np.frombuffer(raw, dtype=np.uint8)
    assert utf8_text(data) == expected
    points = code_points(data)
    assert (points is None) if expected is None else (points.tolist() == [ord(c) for c in expected])
