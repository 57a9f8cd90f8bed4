"""JSON nested too deeply: the depth guard against a byte-by-byte reference, and every reader refusing it located.

Without the guard, ijson's memory grows with the square of the depth (a 400 KB file of brackets was killed for
lack of memory) and json.loads / msgspec raise RecursionError (a traceback at the command line).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys

import ijson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corpus_tools.strictjson import MAX_DEPTH, DepthGuard, StrictReader, TooDeep, check_depth, loads
from corpus_tools.validate.reading import ChunkReader


def reference_first_too_deep(data: bytes, limit: int) -> int | None:
    """Byte by byte: a backslash escapes the next byte (outside strings too, where JSON has none: there it keeps a
    quote from opening a string), a quote that is not escaped opens or ends a string, brackets count outside."""
    depth, in_string, escaped = 0, False, False
    for i, byte in enumerate(data):
        if escaped:
            escaped = False
            if in_string or byte == 0x22:
                continue
        elif byte == 0x5C:
            escaped = True
            continue
        if byte == 0x22:
            in_string = not in_string
        elif in_string:
            continue
        elif byte in b"[{":
            depth += 1
            if depth > limit:
                return i
        elif byte in b"]}":
            depth -= 1
    return None


PIECES = st.sampled_from([b"[", b"]", b"{", b"}", b'"', b"\\", b"\\\\", b'\\"', b"a", b",", b":", b" ",
                          "بيروت".encode(), b'"[{"', b'"\\\\"', b"1"])


@settings(max_examples=400, deadline=None)
@given(st.lists(PIECES, max_size=80), st.integers(1, 6), st.lists(st.integers(0, 400), max_size=6))
def test_guard_equals_the_reference_however_the_bytes_are_cut(pieces, limit, cuts):
    data = b"".join(pieces)
    expected = reference_first_too_deep(data, limit)
    guard = DepthGuard(limit)
    bounds = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    found = None
    for start, end in zip(bounds, bounds[1:], strict=False):
        try:
            guard.feed(data[start:end])
        except TooDeep as exc:
            found = exc.offset
            break
    assert found == expected


@settings(max_examples=400, deadline=None)
@given(st.lists(PIECES, max_size=80), st.integers(1, 6))
def test_check_depth_equals_the_reference(pieces, limit):
    # check_depth reads quotes and brackets alone when no quote is escaped, and the guard otherwise
    data = b"".join(pieces)
    expected = reference_first_too_deep(data, limit)
    try:
        check_depth(data, limit)
        found = None
    except TooDeep as exc:
        found = exc.offset
    assert found == expected


def test_check_depth_without_escaped_quotes_counts_brackets_outside_strings_only():
    inside = b'{"text": "' + b"[" * 40 + b'", "more": "\\n{{{{"}'
    check_depth(b"[" * 10 + inside + b"]" * 10, limit=11)
    deep = b"[" * 12 + b"]" * 12
    with pytest.raises(TooDeep) as caught:
        check_depth(b'{"a": "]]]]"}' + deep, limit=11)
    assert caught.value.offset == len(b'{"a": "]]]]"}') + 11


def test_a_deep_value_inside_a_string_does_not_count():
    deep = b"[" * (MAX_DEPTH + 10)
    DepthGuard().feed(b'[{"text": "' + deep + b'\\" still a string ' + deep + b'"}]')
    with pytest.raises(TooDeep) as raised:
        DepthGuard().feed(b'[{"text": "a\\\\"}, ' + deep + b"]")
    assert raised.value.offset == len(b'[{"text": "a\\\\"}, ') + MAX_DEPTH - 1


def test_loads_is_json_loads_or_a_located_decode_error():
    assert loads('{"a": [1, {"b": "[[["}]}') == {"a": [1, {"b": "[[["}]}
    n = 5_000  # json.loads gives up at about a thousand levels
    text = '{"meta": ' + "[" * n + "]" * n + "}"
    with pytest.raises(json.JSONDecodeError) as raised:
        loads(text)
    assert raised.value.pos == len('{"meta": ') + MAX_DEPTH - 1
    assert f"more than {MAX_DEPTH} levels" in raised.value.msg
    with pytest.raises(json.JSONDecodeError):
        loads(text.encode())


def test_readers_refuse_before_ijson_sees_the_bytes(tmp_path):
    path = tmp_path / "deep.json"
    path.write_bytes(b"[" * 50_000 + b"]" * 50_000)  # ijson: about 6 GB of prefixes
    with open(path, "rb") as raw, pytest.raises(TooDeep) as raised:
        for _ in ijson.items(ChunkReader(StrictReader(raw)), "item"):  # as validate reads an export
            pass
    assert raised.value.offset == MAX_DEPTH


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "corpus_tools", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture
def deep_inputs(tmp_path):
    n = 5_000
    export = tmp_path / "export.json"
    export.write_text('[{"id": 1, "data": {"text": "x", "meta": ' + "[" * n + "]" * n + "}}]", encoding="utf-8")
    documents = tmp_path / "documents.jsonl"
    documents.write_text('{"id": "d1", "text": "x", "meta": ' + "[" * n + "]" * n + "}\n", encoding="utf-8")
    articles = tmp_path / "articles.jsonl"
    articles.write_text('{"text": "x", "meta": ' + "[" * n + "]" * n + "}\n", encoding="utf-8")
    return export, documents, articles


def test_every_command_refuses_deep_input_located(tmp_path, deep_inputs):
    export, documents, articles = deep_inputs
    prefix = len('[{"id": 1, "data": {"text": "x", "meta": ')
    for args, code, where in [
        (["validate", str(export)], "export-invalid-json", f"byte {prefix + MAX_DEPTH - 3}"),
        (["build", str(export), "--version", "1.0.0", "--out", str(tmp_path / "r1")], "export-invalid-json",
         "$[0]"),
        (["validate", str(documents)], "document-invalid-json", f"more than {MAX_DEPTH} levels"),
        (["build", str(documents), "--version", "1.0.0", "--out", str(tmp_path / "r2")], "document-invalid-json",
         ":1"),
        (["ingest", str(articles), "--out", str(tmp_path / "a.jsonl")], "", f"more than {MAX_DEPTH} levels"),
    ]:
        result = run(*args)
        said = " ".join(result.stderr.split())
        assert result.returncode == 1, (args, result.stderr[-2000:])
        assert "Traceback" not in result.stderr and code in said and where in said, (args, said[-2000:])
    assert not (tmp_path / "r1").exists() and not (tmp_path / "r2").exists()


@pytest.mark.parametrize("text, what, at", [
    ('{"score": NaN}', "NaN is not a JSON number", len('{"score": ')),
    ('[1, -Infinity]', "-Infinity is not a JSON number", len("[1, ")),
    ('{"lead_time": 1e400}', "1e400 is beyond a double", len('{"lead_time": ')),
])
def test_loads_refuses_what_python_reads_and_json_has_not(text, what, at):
    with pytest.raises(json.JSONDecodeError) as raised:
        loads(text)
    assert (raised.value.msg, raised.value.pos) == (what, at)
    assert loads('{"s": "NaN", "x": 1.5e300}') == {"s": "NaN", "x": 1.5e300}


def test_a_document_line_with_nan_is_invalid_json(tmp_path):
    from corpus_tools.validate.driver import validate_export

    path = tmp_path / "d.jsonl"
    path.write_text('{"id": "d1", "text": "x", "entities": [], "relations": [], "meta": {"score": NaN}}\n',
                    encoding="utf-8")
    assert [(p.code, p.line) for p in validate_export(path).problems] == [("document-invalid-json", 1)]


LONG = "1" * 5_000  # past Python's int() limit of 4300 digits


def test_loads_refuses_an_integer_too_long_for_python_located():
    text = '{"text": "a", "meta": {"n": ' + LONG + "}}"
    with pytest.raises(json.JSONDecodeError) as raised:
        loads(text)
    assert raised.value.pos == len('{"text": "a", "meta": {"n": ')
    assert "5000 digits" in raised.value.msg
    with pytest.raises(json.JSONDecodeError) as raised:
        loads(('["' + LONG + '", -' + LONG + "]").encode())  # the digits in the string are text: not refused
    assert raised.value.pos == len('["' + LONG + '", ')
    assert loads('{"n": ' + "9" * 4_300 + "}") == {"n": int("9" * 4_300)}


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 600, 900])
def test_loads_refuses_beyond_the_limit_even_where_json_loads_would_not(depth):
    text = '{"meta": ' + "[" * depth + "]" * depth + "}"
    with pytest.raises(json.JSONDecodeError) as raised:
        loads(text)
    assert raised.value.pos == len('{"meta": ') + MAX_DEPTH - 1  # the outer object is the first level
    with pytest.raises(json.JSONDecodeError):
        loads(text.encode())
    at_limit = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert loads(at_limit) == loads(at_limit.encode())


def test_readers_report_long_integers_and_deep_values_as_their_codes(tmp_path):
    from corpus_tools.ingest.driver import ingest_paths
    from corpus_tools.validate.driver import validate_export

    deep = "[" * 600 + "]" * 600
    articles = tmp_path / "a.jsonl"
    articles.write_text('{"text": "a", "meta": {"n": ' + LONG + '}}\n{"text": "b", "meta": {"d": ' + deep + "}}\n"
                        '{"text": "c"}\n', encoding="utf-8")
    table = tmp_path / "a.csv"
    table.write_text('text,meta\nx,"{""n"": ' + LONG + '}"\n', encoding="utf-8")
    result = ingest_paths([str(articles), str(table)])
    assert [a["text"] for a in result.articles] == ["c"]
    assert [(p.code, p.line) for p in result.report.problems if p.severity == "error"] == [
        ("ingest-bad-json-line", 1), ("ingest-bad-json-line", 2), ("ingest-bad-field-type", 2)]
    documents = tmp_path / "d.jsonl"
    documents.write_text('{"id": "d1", "text": "x", "entities": [], "relations": [], "meta": {"n": ' + LONG + "}}\n"
                         '{"id": "d2", "text": "x", "entities": [], "relations": [], "meta": {"d": ' + deep + "}}\n",
                         encoding="utf-8")
    assert [(p.code, p.line) for p in validate_export(documents).problems] == [
        ("document-invalid-json", 1), ("document-invalid-json", 2)]


class CountingFile(io.BytesIO):
    """A file that counts the reads asked of it."""

    reads = 0

    def read(self, size: int | None = -1) -> bytes:
        self.reads += 1
        return super().read(size)


def test_one_huge_string_is_read_in_few_reads():
    """yajl lexes a string cut by a read again from its start with the next read: reads of a fixed size made the
    time grow with the square of the string's length (docs/benchmarks.md, "One huge text").  Reads inside a string
    double, so a string of n bytes takes about log2(n / 64 KiB) reads, not n / 64 KiB."""
    text = "محمد زار بيروت " * ((4 << 20) // len("محمد زار بيروت ".encode()))  # 4 MiB of text in one string
    data = json.dumps([{"id": 1, "data": {"text": text}}, {"id": 2, "data": {"text": "x"}}],
                      ensure_ascii=False).encode("utf-8")
    raw = CountingFile(data)
    items = list(ijson.items(StrictReader(raw), "item"))
    assert [item["data"]["text"] for item in items] == [text, "x"]
    assert len(data) // (64 << 10) >= 64 and raw.reads <= 12


class SizesFile(io.BytesIO):
    """A file that records the sizes of the reads asked of it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.sizes: list[int] = []

    def read(self, size: int | None = -1) -> bytes:
        self.sizes.append(size)
        return super().read(size)


def test_a_file_of_many_short_strings_is_read_in_chunks_of_the_size_asked():
    """Most of its chunks end inside some string, never inside one string from their start: no read doubles (it
    did when a chunk merely ended inside a string, and a splits.json of a million ids was read nearly whole)."""
    data = json.dumps({"assignments": {f"art-{i:07d}": "train" for i in range(100_000)}}).encode()
    raw = SizesFile(data)
    events = list(ijson.parse(StrictReader(raw), buf_size=64 << 10))
    assert len(events) == 2 * 100_000 + 5
    assert len(data) // (64 << 10) >= 32
    assert {size for size in raw.sizes if size} == {64 << 10}
