"""A lone UTF-16 surrogate escape in JSON input is a located problem wherever JSON is read, never a crash later nor
a changed text: json.loads lets "\\udc00" through (no UTF-8 writer takes it), msgspec refuses it, and ijson's yajl
C backend writes "?" for "\\ud800"."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corpus_tools.errors import InputError
from corpus_tools.labelstudio.importer import iter_jsonl
from corpus_tools.labelstudio.snapshot import summarize_export
from corpus_tools.release.splits import read_splits
from corpus_tools.report import Report
from corpus_tools.strictjson import LoneSurrogateError, SurrogateScan, loads
from corpus_tools.text import lone_surrogate
from corpus_tools.validate.driver import iter_validated, repair_utf16_export, validate_export

DOC = {"id": "d1", "text": "محمد في بيروت", "title": "t",
       "entities": [{"id": "e1", "start": 0, "end": len("محمد"), "text": "محمد", "label": "PER"}], "relations": []}


def line_with(text_escape: str) -> str:
    """The document as one JSON line whose text starts with the given escape sequence."""
    return json.dumps(DOC, ensure_ascii=False).replace('"text": "محمد', '"text": "' + text_escape + "محمد", 1)


def test_lone_surrogate_finds_the_first_path():
    assert lone_surrogate({"a": ["ok", {"b": "x\udc00"}]}) == "$.a[1].b"
    assert lone_surrogate({"a\ud800": 1}) == "$"
    assert lone_surrogate({"a": ["😀", "\U0001f600", 1, None]}) is None


def test_document_jsonl_with_a_lone_surrogate_is_refused_located(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(line_with("\\udc00") + "\n", encoding="utf-8")
    report = validate_export(bad)
    assert [(p.code, p.line, p.json_path) for p in report.problems] == [("document-invalid-json", 1, "$.text")]
    result = subprocess.run([sys.executable, "-m", "corpus_tools", "build", str(bad), "--version", "1.0.0", "--out",
                             str(tmp_path / "rel")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and "Traceback" not in result.stderr and "document-invalid-json" in result.stderr
    assert not (tmp_path / "rel").exists()


def test_a_surrogate_pair_escape_is_text(tmp_path):
    good = tmp_path / "good.jsonl"
    doc = dict(DOC, text="😀 " + DOC["text"])
    doc["entities"] = [dict(DOC["entities"][0], start=len("😀 "), end=len("😀 محمد"))]
    good.write_text(json.dumps(doc) + "\n", encoding="utf-8")  # ASCII escapes: "\ud83d\ude00"
    assert "\\ud83d\\ude00" in good.read_text(encoding="utf-8")
    assert validate_export(good).valid


def test_ls_readers_report_the_line(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text(json.dumps(DOC, ensure_ascii=False) + "\n" + line_with("\\ud800") + "\n", encoding="utf-8")
    report = Report()
    records = list(iter_jsonl(path, "document.schema.json", "upload-invalid-record", report))
    assert [number for number, *_ in records] == [1]
    assert [(p.line, p.json_path) for p in report.problems] == [(2, "$.text")]
    assert "lone UTF-16 surrogate" in report.problems[0].message



# ------------------------------------------------------------------------------ Label Studio exports (ijson, msgspec)
# ijson's yajl C backend writes "?" for a lone high surrogate escape, and joins one to any \u escape after it
# ("\ud800\u0041" reads as U+10041); msgspec refuses every lone surrogate, so the export is read as a stream.
PREFIX = "زار "
TEXT = PREFIX + "محمد بيروت"


def task(number: int, text: str = TEXT) -> dict:
    """A valid task whose one span is 'محمد' after PREFIX (offsets hold whatever escape starts the text)."""
    start = len(PREFIX)
    return {"id": number, "data": {"text": text, "article_id": f"art-{number}"}, "annotations": [{"id": number,
            "result": [{"id": f"r{number}", "from_name": "label", "to_name": "text", "type": "labels",
                        "value": {"start": start, "end": start + len("محمد"), "text": "محمد", "labels": ["PER"]}}]}]}


def export_with(tmp_path: Path, escape: str, *, tasks: int = 300, at: int = 250,
                where: str = "text") -> tuple[Path, int]:
    """An export of ``tasks`` tasks (more than one 64 KiB read) whose task ``at`` holds ``escape`` (raw JSON text)
    in its data.text (or data.title); the path and the escape's byte offset."""
    items = [task(i) for i in range(tasks)]
    items[at]["data"][where] = "MARK" + (TEXT[1:] if where == "text" else "")  # the escape in place of one letter
    raw = json.dumps(items, ensure_ascii=False).encode("utf-8")
    offset = raw.index(b"MARK")
    raw = raw.replace(b"MARK", escape.encode("ascii"), 1)
    path = tmp_path / "export.json"
    path.write_bytes(raw)
    return path, offset


@pytest.mark.parametrize("escape", ["\\ud800", "\\udbff", "\\udc00", "\\ud800\\ud800", "\\ud800\\u0041",
                                    "\\ud83d\\ud83d\\ude00", "\\udc00\\ud800"])
@pytest.mark.parametrize("workers", [1, 2])
def test_a_lone_surrogate_escape_in_an_export_is_located_never_changed(tmp_path, escape, workers):
    # the escape stands for the text's first letter: yajl's one "?" kept the span's offsets, and the task passed
    path, offset = export_with(tmp_path, escape)
    report = validate_export(path, workers=workers)
    assert [(p.code, p.task_id, p.json_path, p.byte_offset) for p in report.problems] == [
        ("export-invalid-json", 250, "$[250].data.text", offset)]
    assert not report.valid and report.stats["tasks"] == 250


def test_a_lone_surrogate_at_a_string_end_or_in_a_key_is_located(tmp_path):
    path, offset = export_with(tmp_path, "\\ud800", where="title")  # the string ends right after the escape
    assert [(p.code, p.json_path, p.byte_offset) for p in validate_export(path).problems] == [
        ("export-invalid-json", "$[250].data.title", offset)]
    items = [task(0), task(1)]
    raw = json.dumps(items, ensure_ascii=False).replace('"article_id": "art-1"', '"\\udbff": 1, "article_id": "art-1"')
    path.write_text(raw, encoding="utf-8")
    assert [(p.code, p.json_path) for p in validate_export(path).problems] == [("export-invalid-json", "$[1].data")]


def test_surrogate_pairs_and_escaped_backslashes_are_text(tmp_path):
    """A pair cut by a read of the stream, and the text '\\ud800' (its backslash escaped), are no lone surrogate."""
    raw = json.dumps([task(i) for i in range(300)], ensure_ascii=False).encode("utf-8")
    pair, literal = b"\\ud83d\\ude00", b"\\\\ud800"
    at = raw.rindex(b'"text": "', 0, (1 << 16) - 100) + len(b'"text": "')
    for cut in range(1, len(pair)):  # the pair across the 64 KiB boundary of the stream's first read, at every byte
        data = raw[:at] + b"x" * ((1 << 16) - cut - at) + pair + literal + raw[at:]
        assert data[(1 << 16) - cut:(1 << 16) - cut + len(pair)] == pair
        path = tmp_path / "pair.json"
        path.write_bytes(data)
        report = Report()
        texts = [item["data"]["text"] for _, _, item in iter_validated(path, report)]  # the stream reading
        assert [p.code for p in report.problems if p.code.startswith("export-")] == []
        assert len(texts) == 300 and sum(text.startswith("x") and "😀\\ud800" in text for text in texts) == 1


def test_build_refuses_an_export_with_a_lone_high_surrogate(tmp_path):
    path, _ = export_with(tmp_path, "\\ud800", tasks=3, at=1)
    result = subprocess.run([sys.executable, "-m", "corpus_tools", "build", str(path), "--version", "1.0.0", "--out",
                             str(tmp_path / "rel")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "[export-invalid-json]" in result.stderr and "$[1].data.text" in result.stderr
    assert not (tmp_path / "rel").exists()
    report = repair_utf16_export(path, tmp_path / "repaired.json")
    assert [(p.code, p.json_path) for p in report.problems] == [("export-invalid-json", "$[1].data.text")]
    assert report.stats["written"] is False and not (tmp_path / "repaired.json").exists()


def test_the_snapshot_summary_refuses_a_lone_high_surrogate(tmp_path):
    path, offset = export_with(tmp_path, "\\ud800", tasks=3, at=1)
    with pytest.raises(InputError, match=f"at byte {offset}"):
        summarize_export(path)


# ------------------------------------------------------------------------------ the scan against a reference
def reference_first_lone(data: bytes) -> int | None:
    """Byte by byte: a backslash escapes the byte after it; \\uXXXX reads four hex digits; a high surrogate followed
    at once by a low one is a pair."""
    def code(i: int) -> int | None:
        piece = data[i:i + 6]
        if len(piece) == 6 and piece[:2] == b"\\u" and all(c in b"0123456789abcdefABCDEF" for c in piece[2:]):
            return int(piece[2:], 16)
        return None

    i = 0
    while i < len(data):
        if data[i] != 0x5C:
            i += 1
            continue
        value = code(i)
        if value is None:
            i += 2
        elif 0xD800 <= value <= 0xDBFF and (after := code(i + 6)) is not None and 0xDC00 <= after <= 0xDFFF:
            i += 12
        elif 0xD800 <= value <= 0xDFFF:
            return i
        else:
            i += 6
    return None


ESCAPES = st.sampled_from([b"\\ud800", b"\\uDBFF", b"\\udc00", b"\\uDE00", b"\\ud83d", b"\\u0041", b"\\\\", b"\\",
                           b"\\n", b"u", b"d800", b"a", "ب".encode(), b'"'])


@settings(max_examples=500, deadline=None)
@given(st.lists(ESCAPES, max_size=40), st.lists(st.integers(0, 300), max_size=6))
def test_scan_equals_the_reference_however_the_bytes_are_cut(pieces, cuts):
    data = b"".join(pieces)
    expected = reference_first_lone(data)
    scan = SurrogateScan()
    bounds = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    out, found = b"", None
    for start, end in zip(bounds, bounds[1:], strict=False):
        part, found = scan.feed(data[start:end])
        out += part
        if found is not None:
            break
    if found is None:
        part, found = scan.feed(b"", final=True)
        out += part
    assert found == expected
    assert out == (data if expected is None else data[:expected])


def test_loads_refuses_a_lone_surrogate_with_its_path():
    with pytest.raises(LoneSurrogateError) as raised:
        loads('{"a": ["ok", {"b": "x\\ud800y"}]}')
    assert (raised.value.json_path, raised.value.pos) == ("$.a[1].b", len('{"a": ["ok", {"b": "x'))
    assert loads('["\\ud83d\\ude00", "\\\\ud800"]') == ["😀", "\\ud800"]
    with pytest.raises(UnicodeDecodeError):  # json.loads reads a UTF-8 encoded surrogate from bytes
        loads(b'["\xed\xa0\x80"]')


def test_a_splits_file_with_a_lone_surrogate_is_refused_located(tmp_path):
    path = tmp_path / "splits.json"
    path.write_text('{"format": 1, "method": "sha256-bucket", "seed": "s", "ratios": [["train", 1.0]],'
                    ' "assignments": {"doc-\\udbff": "train"}}', encoding="utf-8")
    with pytest.raises(InputError, match=r"lone UTF-16 surrogate escape .* at \$\.assignments"):
        read_splits(path, tmp_path / "earlier.sqlite")


def test_printable_escapes_what_a_terminal_must_not_get_raw():
    """Controls (ESC starts escape sequences, CR overwrites the line) and lone surrogates are written as escapes;
    tab, line feed, Arabic text and its direction marks are kept."""
    from corpus_tools.text import printable

    kept = "مدينة\u200f \u200e\u200c\u200d\t\nend ✓"
    assert printable(kept) == kept
    assert printable("a\x1b[2Jb\rc\x00d\x7fe\x85f\udcffg") == "a\\x1b[2Jb\\x0dc\\x00d\\x7fe\\x85f\\xffg"
    assert printable("\ud800") == "\\ud800"
    assert printable("\x1b", in_json=True) == "\\\\x1b"


@given(st.text())
def test_printable_output_has_no_control_but_tab_and_line_feed(text):
    from corpus_tools.text import printable

    out = printable(text)
    assert not any(ord(ch) < 0x20 and ch not in "\t\n" or 0x7F <= ord(ch) <= 0x9F for ch in out)
    out.encode("utf-8")  # always encodable


def test_a_data_table_prints_its_title_and_cells_escaped():
    """The tables of diff and releases (read from releases and an index) show control characters as escapes."""
    import io

    from rich.console import Console

    from corpus_tools.cli._common import DataTable

    table = DataTable(title="v1\x1b[2J")
    table.add_column("text")
    table.add_row("a\rb\udcff")
    out = io.StringIO()
    Console(file=out, width=80, highlight=False).print(table)
    assert "\x1b" not in out.getvalue() and "\r" not in out.getvalue()
    assert "v1\\x1b[2J" in out.getvalue() and "a\\x0db\\xff" in out.getvalue()
