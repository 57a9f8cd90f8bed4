"""validate.segments: a JSON array file cut into verified byte segments of whole elements."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus_tools.validate.segments import Segment, SegmentError, iter_segments

TRICKY = ["}, {", '"', "\\", "],[", "\n", '}, {"id": 7, "annotations": [', "وقال الرئيس", "🙂", ",", " ", "ـ"]

texts = st.lists(st.one_of(st.sampled_from(TRICKY), st.text(max_size=4)), max_size=5).map("".join)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    texts,
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(texts, children, max_size=4)),
    max_leaves=12,
)
# Label Studio shaped tasks: nested annotations also look like task starts ('}, {"id": 3').
tasks = st.builds(
    lambda i, anns, text: {"id": i, "annotations": [{"id": a, "result": r} for a, r in anns], "data": {"text": text}},
    st.integers(0, 10**6),
    st.lists(st.tuples(st.integers(0, 10**6), st.lists(values, max_size=3)), max_size=3),
    texts,
)
elements = st.lists(st.one_of(values, tasks), max_size=25)


def dump(items: list, style: str) -> bytes:
    if style == "compact":
        text = json.dumps(items, ensure_ascii=False, separators=(",", ":"))
    elif style == "label-studio":
        text = json.dumps(items, ensure_ascii=False)
    elif style == "indent":
        text = json.dumps(items, ensure_ascii=False, indent=2) + "\n"
    elif style == "ascii":
        text = json.dumps(items)
    else:  # the bench: one element a line
        text = "[" + ",\n".join(json.dumps(item, ensure_ascii=False) for item in items) + "]\n"
    return text.encode()


def cut(tmp: Path, data: bytes, target_bytes: int) -> list[Segment]:
    path = tmp / "export.json"
    path.write_bytes(data)
    return list(iter_segments(path, target_bytes=target_bytes))


def parse_segments(data: bytes, segments: list[Segment]) -> list:
    items = []
    for seg in segments:
        piece = data[seg.offset : seg.offset + seg.length]
        decoded = json.loads(b"[" + piece + b"]")
        assert len(decoded) == seg.count
        items.extend(decoded)
    return items


def check_layout(data: bytes, segments: list[Segment]) -> None:
    """Consecutive, whole, and only ws ',' ws between segments and '[' / ']' around them."""
    index = 0
    previous_end = None
    for seg in segments:
        assert seg.first_index == index and seg.count >= 1 and seg.length >= 1
        piece = data[seg.offset : seg.offset + seg.length]
        assert piece[:1] not in b" \t\r\n" and piece[-1:] not in b" \t\r\n"
        if previous_end is None:
            assert data[: seg.offset].strip() == b"["
        else:
            assert seg.offset > previous_end and data[previous_end : seg.offset].strip() == b","
        previous_end = seg.offset + seg.length
        index += seg.count
    if previous_end is not None:
        assert data[previous_end:].strip() == b"]"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    items=elements,
    style=st.sampled_from(["compact", "label-studio", "indent", "ascii", "lines"]),
    target_bytes=st.one_of(st.integers(1, 256), st.integers(257, 4096)),
)
def test_segments_cover_the_array(items, style, target_bytes):
    data = dump(items, style)
    with tempfile.TemporaryDirectory() as tmp:
        segments = cut(Path(tmp), data, target_bytes)
        assert cut(Path(tmp), data, target_bytes) == segments  # deterministic
    assert parse_segments(data, segments) == json.loads(data)
    assert sum(seg.count for seg in segments) == len(items)
    check_layout(data, segments)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=st.lists(st.one_of(values, tasks), min_size=1, max_size=8), data=st.data())
def test_every_truncation_is_refused(items, data):
    full = dump(items, data.draw(st.sampled_from(["label-studio", "indent", "lines"]))).rstrip()
    end = data.draw(st.integers(0, len(full) - 1))
    with tempfile.TemporaryDirectory() as tmp, pytest.raises(SegmentError):
        cut(Path(tmp), full[:end], data.draw(st.integers(1, 256)))


def test_label_studio_tasks_cut_at_task_starts(tmp_path):
    task = {"id": 0, "annotations": [{"id": 1, "result": []}, {"id": 2, "result": [{"id": "r", "value": {}}]}]}
    items = [dict(task, id=i, data={"text": "نص " * (i % 7)}) for i in range(300)]
    data = dump(items, "label-studio")
    segments = cut(tmp_path, data, 4096)
    assert len(segments) > 5
    assert all(seg.length <= 4096 for seg in segments)
    assert all(data[seg.offset : seg.offset + 7] == b'{"id": ' for seg in segments)
    assert parse_segments(data, segments) == items


def test_read_returns_the_segment_bytes(tmp_path):
    data = b'[{"id": 1}, [2, 3],\n"x"\t, 4]'
    segments = cut(tmp_path, data, 1)
    with open(tmp_path / "export.json", "rb") as f:
        pieces = [seg.read(f) for seg in segments]
    assert pieces == [data[seg.offset : seg.offset + seg.length] for seg in segments]
    assert pieces[:2] == [b'{"id": 1}', b"[2, 3]"]  # blocks of 1, then 2, 4, 8 bytes until a cut verifies
    assert json.loads(b"[" + b", ".join(pieces) + b"]") == [{"id": 1}, [2, 3], "x", 4]


def test_element_bigger_than_target(tmp_path):
    big = {"id": 2, "data": {"text": "كلمة, }, {" * 2000}, "annotations": [{"id": 3}, {"id": 4}]}
    items = [1, big, {"id": 3}]
    data = dump(items, "label-studio")
    segments = cut(tmp_path, data, 64)
    assert parse_segments(data, segments) == items
    big_segment = next(seg for seg in segments if seg.first_index <= 1 < seg.first_index + seg.count)
    assert big_segment.length >= len(json.dumps(big, ensure_ascii=False).encode())


@pytest.mark.parametrize(
    "data", [b"[]", b"[ ]\n", b" \n[\n\t]  \n", b"[" + b" " * 100_000 + b"]", b" " * 100_000 + b"[]" + b"\n" * 100_000]
)
def test_empty_array_yields_nothing(tmp_path, data):
    assert cut(tmp_path, data, 64) == []


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'[{"id": 1}]', [(len(b"["), len(b'{"id": 1}'), 0, 1)]),
        (b'  [ "a" ]  \n\n', [(len(b"  [ "), len(b'"a"'), 0, 1)]),
        (b"[1, 2]\r\n", [(len(b"["), len(b"1, 2"), 0, 2)]),
    ],
)
def test_small_arrays(tmp_path, data, expected):
    assert [(s.offset, s.length, s.first_index, s.count) for s in cut(tmp_path, data, 1 << 20)] == expected


MALFORMED = {
    "empty file": b"",
    "only whitespace": b" \n ",
    "truncated": b'[{"id": 1}, {"id": 2, "data": {"te',
    "missing ]": b'[{"id": 1}, {"id": 2}',
    "garbage after ]": b'[{"id": 1}] x',
    "second array after ]": b"[1], [2]",
    "extra ]": b"[1, 2]]",
    "object instead of array": b'{"id": 1, "data": {}}',
    "bom": b'\xef\xbb\xbf[{"id": 1}]',
    "invalid utf-8 in a string": b'[{"id": 1, "data": {"text": "\xd9\x88\xff"}}]',
    "truncated utf-8 sequence": b'[{"text": "\xd9"}]',
    "trailing comma": b"[1, 2, ]",
    "leading comma": b"[, 1]",
    "double comma": b"[1,, 2]",
    "missing comma": b'[{"id": 1} {"id": 2}]',
    "unquoted key": b"[{id: 1}]",
    "single quotes": b"['a']",
    "control character in a string": b'["a\x01"]',
    "only [": b"[",
    "only ]": b"]",
    "scalar": b"1",
}


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
@pytest.mark.parametrize("target_bytes", [1, 8, 1 << 20])
def test_malformed_raises_segment_error(tmp_path, data, target_bytes):
    with pytest.raises(SegmentError):
        cut(tmp_path, data, target_bytes)


@pytest.mark.parametrize(
    "defect",
    [b'{"id": 50, "data": {"text": "\xff"}}', b'{"id": 50 "data": {}}', b'{"id": 50, "data": [}', b"]"],
    ids=["invalid utf-8", "missing comma", "bad bracket", "early ]"],
)
def test_defect_deep_in_a_long_file_raises(tmp_path, defect):
    tasks_before = b", ".join(b'{"id": %d, "data": {"text": "\xd9\x86\xd8\xb5 %d"}}' % (i, i) for i in range(100))
    data = b"[" + tasks_before + b", " + defect + b', {"id": 101, "data": {}}]'
    with pytest.raises(SegmentError):
        cut(tmp_path, data, 256)


def test_utf8_check_can_be_left_to_the_parser(tmp_path):
    data = b'[{"text": "\xff"}]'
    path = tmp_path / "export.json"
    path.write_bytes(data)
    assert [s.count for s in iter_segments(path, check_utf8=False)] == [1]


def test_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(OSError):
        list(iter_segments(tmp_path / "missing.json"))
