"""A lone UTF-16 surrogate escape in JSON input (json.loads lets "\\udc00" through; no UTF-8 writer takes it) is a
located problem in document JSONL and in the files `ls import` and `ls annotate` read, never a crash later."""

from __future__ import annotations

import json
import subprocess
import sys

from corpus_tools.labelstudio.importer import iter_jsonl
from corpus_tools.report import Report
from corpus_tools.text import lone_surrogate
from corpus_tools.validate.driver import validate_export

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

