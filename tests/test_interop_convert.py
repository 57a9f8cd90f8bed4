"""convert: the documents, labelstudio, tasks and release formats, label maps, the ontology check, atomic output,
the CLI (exit codes, --json, help generated from the registry)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus_tools.errors import InputError
from corpus_tools.interop import registry
from corpus_tools.interop.convert import MARKER, convert, split_options
from corpus_tools.interop.format import Format
from corpus_tools.interop.registry import formats
from corpus_tools.report import Report

RLM, TATWEEL, EMOJI = "\u200f", "\u0640", "😀"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "corpus_tools", *args], capture_output=True, text=True, timeout=120)


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def entity(text: str, prefix: str, name: str, label: str, span_id: str) -> dict:
    start = len(prefix)
    assert text[start:start + len(name)] == name
    return {"id": span_id, "start": start, "end": start + len(name), "text": name, "label": label}


# A hand-written Arabic sample: CRLF, an RLM and tatweel at span edges, an emoji, a nested span.
TEXT = f"قال الرئيس محمد{RLM} في القاهرة\r\nإن شركة مصر{TATWEEL} للطيران {EMOJI} ستعود"
SAMPLE = {
    "id": "doc-1",
    "text": TEXT,
    "title": "عنوان",
    "source": "الوطن",
    "lang": "ar",
    "dateline": None,
    "entities": [
        entity(TEXT, "قال الرئيس ", f"محمد{RLM}", "PERS", "T1"),
        entity(TEXT, f"قال الرئيس محمد{RLM} في ", "القاهرة", "LOC", "T2"),
        entity(TEXT, f"قال الرئيس محمد{RLM} في القاهرة\r\nإن ", f"شركة مصر{TATWEEL} للطيران", "ORG", "T3"),
        entity(TEXT, f"قال الرئيس محمد{RLM} في القاهرة\r\nإن شركة ", f"مصر{TATWEEL}", "LOC", "T4"),
    ],
    "relations": [{"id": "R1", "head": "T1", "tail": "T2", "label": "located"}],
}
SECOND = {"id": "doc-2", "text": "زار الوفد الرياض", "title": "", "source": "", "lang": "ar", "dateline": None,
          "entities": [entity("زار الوفد الرياض", "زار الوفد ", "الرياض", "MISC", "T1")], "relations": []}


@pytest.fixture
def corpus(tmp_path) -> Path:
    return write_jsonl(tmp_path / "in.jsonl", [SAMPLE, SECOND])


def codes(report) -> list[tuple[str, object]]:
    return sorted((p.code, p.line) for p in report.problems)


# ---------------------------------------------------------------------------------------------- documents


def test_documents_round_trip_keeps_every_field_and_the_source_labels(corpus, tmp_path):
    out = tmp_path / "out.jsonl"
    report = convert(corpus, "documents", "documents", out)
    assert report.valid and report.stats["written"] is True
    assert read_jsonl(out) == [SAMPLE, SECOND]  # labels the ontology lacks (PERS, MISC, located) pass through
    assert report.stats["labels"] == {"LOC": 2, "MISC": 1, "ORG": 1, "PERS": 1}
    assert (report.stats["documents"], report.stats["entities"], report.stats["relations"]) == (2, 5, 1)
    # the guidelines' edge checks are warnings here: the RLM that ends T1 (a tatweel may end a span)
    assert [(p.code, p.severity, p.line, p.json_path) for p in report.problems] == [
        ("span-edge-control", "warning", 1, "$.entities[0].end")]


_ALPHABET = st.sampled_from(list("قالرئيسمحدفيهرةنشكطوب ") + [RLM, TATWEEL, EMOJI, "\r\n", "\n"])


@st.composite
def documents(draw) -> list[dict]:
    docs = []
    for k in range(draw(st.integers(1, 3))):
        text = "".join(draw(st.lists(_ALPHABET, min_size=1, max_size=40)))
        bounds = draw(st.lists(st.tuples(st.integers(0, len(text)), st.integers(0, len(text))), max_size=5))
        spans, seen = [], set()
        for a, b in bounds:
            start, end = min(a, b), max(a, b)
            if start == end or (start, end) in seen or text[start:end].strip() != text[start:end]:
                continue
            seen.add((start, end))
            spans.append({"id": f"T{len(spans) + 1}", "start": start, "end": end, "text": text[start:end],
                          "label": draw(st.sampled_from(["PERS", "LOC", "ORG"]))})
        relations = []
        if len(spans) >= 2:
            relations.append({"id": "R1", "head": spans[0]["id"], "tail": spans[1]["id"], "label": "rel"})
        docs.append({"id": f"d{k}", "text": text, "title": "", "source": "", "lang": "ar", "dateline": None,
                     "entities": spans, "relations": relations})
    return docs


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(docs=documents())
def test_documents_round_trip_property(tmp_path, docs):
    source = write_jsonl(tmp_path / "p.jsonl", docs)
    out = tmp_path / "p-out.jsonl"
    report = convert(source, "documents", "documents", out)
    assert not report.errors, report.problems
    assert read_jsonl(out) == docs


def test_a_malformed_document_is_located_and_nothing_is_written(tmp_path):
    bad = dict(SECOND, entities=[dict(SECOND["entities"][0], start=0)])  # the offsets no longer select the text
    source = write_jsonl(tmp_path / "bad.jsonl", [SAMPLE, bad])
    with (tmp_path / "bad.jsonl").open("a", encoding="utf-8") as f:
        f.write("{not json\n")
    out = tmp_path / "out.jsonl"
    out.write_text("previous output\n", encoding="utf-8")
    report = convert(source, "documents", "documents", out)
    assert not report.valid and report.stats["written"] is False
    assert [(p.code, p.line, p.json_path) for p in report.errors] == [
        ("span-text-mismatch", 2, "$.entities[0].text"), ("document-invalid-json", 3, None)]
    assert out.read_text(encoding="utf-8") == "previous output\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl", "out.jsonl"]  # no temporary left


def test_an_export_given_as_documents_is_refused_with_the_right_format(tmp_path):
    export = tmp_path / "export.json"
    export.write_text("[]\n", encoding="utf-8")
    with pytest.raises(InputError, match="Label Studio export; use --from labelstudio"):
        convert(export, "documents", "documents", tmp_path / "out.jsonl")


# ---------------------------------------------------------------------------------------------- tasks


def test_tasks_are_ls_import_tasks_with_the_entities_as_a_prediction(corpus, tmp_path):
    out = tmp_path / "tasks.json"
    report = convert(corpus, "documents", "tasks", out, write_options={"model_version": "anercorp-1"})
    assert report.valid
    tasks = json.loads(out.read_text(encoding="utf-8"))
    assert [t["data"]["article_id"] for t in tasks] == ["doc-1", "doc-2"]
    first = tasks[0]
    assert first["data"]["text"] == TEXT and first["data"]["title"] == "عنوان" and first["data"]["source"] == "الوطن"
    assert len(first["data"]["sha256"]) == 64
    [prediction] = first["predictions"]
    assert prediction["model_version"] == "anercorp-1"
    start = len(f"قال الرئيس محمد{RLM} في القاهرة\r\nإن شركة ")
    assert prediction["result"][3] == {
        "id": "T4", "from_name": "label", "to_name": "text", "type": "labels",
        "value": {"start": start, "end": start + len(f"مصر{TATWEEL}"), "text": f"مصر{TATWEEL}", "labels": ["LOC"]}}
    assert prediction["result"][4] == {"from_id": "T1", "to_id": "T2", "type": "relation", "direction": "right",
                                       "labels": ["located"]}


def _as_export(tasks: list[dict]) -> list[dict]:
    """What Label Studio exports after importing ``tasks``: ids, no annotations, the predictions kept."""
    return [dict(task, id=k + 1, annotations=[], predictions=[dict(p, id=50 + k) for p in task["predictions"]])
            for k, task in enumerate(tasks)]


def test_documents_to_tasks_to_an_export_and_back_keeps_every_span(corpus, tmp_path):
    tasks = tmp_path / "tasks.json"
    assert convert(corpus, "documents", "tasks", tasks).valid
    export = tmp_path / "export.json"
    export.write_text(json.dumps(_as_export(json.loads(tasks.read_text(encoding="utf-8"))), ensure_ascii=False),
                      encoding="utf-8")
    out = tmp_path / "back.jsonl"
    report = convert(export, "labelstudio", "documents", out, read_options={"annotation": "prediction"})
    assert not report.errors, report.problems
    back = read_jsonl(out)
    assert [d["id"] for d in back] == ["doc-1", "doc-2"]
    assert back[0]["entities"] == SAMPLE["entities"]
    assert back[0]["relations"] == [{"id": "T1|located|T2", "head": "T1", "tail": "T2", "label": "located"}]
    assert back[0]["meta"] == {"task_id": 1, "prediction_id": 50, "model_version": "convert", "score": None}


# ---------------------------------------------------------------------------------------------- labelstudio


def _annotation(ann_id: int, label: str, *, ground_truth: bool = False, updated: str = "2024-01-01") -> dict:
    text = "زار الوفد الرياض"
    start = len("زار الوفد ")
    return {"id": ann_id, "ground_truth": ground_truth, "was_cancelled": False, "updated_at": updated,
            "completed_by": 1,
            "result": [{"id": f"r{ann_id}", "from_name": "label", "to_name": "text", "type": "labels",
                        "value": {"start": start, "end": len(text), "text": "الرياض", "labels": [label]}}]}


def _export(tmp_path: Path) -> Path:
    text = "زار الوفد الرياض"
    tasks = [
        {"id": 1, "data": {"text": text, "article_id": "a1"},
         "annotations": [_annotation(11, "GPE", ground_truth=True), _annotation(12, "LOC", updated="2025-01-01")]},
        {"id": 2, "data": {"text": text, "article_id": "a2"},
         "annotations": [_annotation(21, "GPE"), _annotation(22, "LOC", updated="2025-01-01")]},
    ]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    return path


def test_labelstudio_reads_the_gold_annotation_and_leaves_out_tasks_without_one(tmp_path):
    out = tmp_path / "gold.jsonl"
    report = convert(_export(tmp_path), "labelstudio", "documents", out)
    assert report.valid
    assert [(p.code, p.task_id, p.json_path) for p in report.problems] == [("labelstudio-task-left-out", 2, "$[1]")]
    [doc] = read_jsonl(out)
    assert (doc["id"], doc["meta"], [e["label"] for e in doc["entities"]]) == (
        "a1", {"task_id": 1, "annotation_id": 11}, ["GPE"])


def test_an_export_with_a_number_as_a_span_label_is_a_located_error_not_a_traceback(tmp_path):
    """A span label that is a number passed validation unreported and made the CoNLL writer raise TypeError."""
    text = "محمد في بغداد"
    export = tmp_path / "export.json"
    export.write_text(json.dumps([{"id": 1, "data": {"text": text}, "annotations": [{"id": 11, "result": [
        {"id": "a", "from_name": "label", "to_name": "text", "type": "labels",
         "value": {"start": 0, "end": len("محمد"), "text": "محمد", "labels": [5]}}]}]}], ensure_ascii=False),
        encoding="utf-8")
    out = tmp_path / "out.conll"
    done = run("convert", str(export), "--from", "labelstudio", "--to", "conll", "--out", str(out), "--json")
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert [(p["code"], p["task_id"], p["json_path"]) for p in json.loads(done.stdout)["problems"]] == [
        ("export-schema", 1, "$[0].annotations[0].result[0].value.labels[0]")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.json"]


def test_an_integral_float_offset_that_validates_is_read_as_an_integer(tmp_path):
    """An export whose span offsets are written 0.0 and 4.0 passes validation (an integral number is an integer):
    the reader keeps the span, with integer offsets, rather than leaving it out without a word."""
    text = "محمد في بغداد"
    export = tmp_path / "export.json"
    export.write_text(json.dumps([{"id": 1, "data": {"text": text}, "annotations": [{"id": 11, "result": [
        {"id": "a", "from_name": "label", "to_name": "text", "type": "labels",
         "value": {"start": 0.0, "end": float(len("محمد")), "text": "محمد", "labels": ["PER"]}}]}]}],
        ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    report = convert(export, "labelstudio", "documents", out)
    assert report.valid and report.problems == []
    [doc] = read_jsonl(out)
    assert [(e["start"], e["end"], e["label"], e["text"]) for e in doc["entities"]] == [(0, len("محمد"), "PER", "محمد")]
    assert all(type(e["start"]) is int and type(e["end"]) is int for e in doc["entities"])


def test_labelstudio_latest_takes_the_annotation_updated_last(tmp_path):
    out = tmp_path / "latest.jsonl"
    report = convert(_export(tmp_path), "labelstudio", "documents", out, read_options={"annotation": "latest"})
    assert report.valid and not report.problems
    assert [(d["id"], d["meta"]["annotation_id"], d["entities"][0]["label"]) for d in read_jsonl(out)] == [
        ("a1", 12, "LOC"), ("a2", 22, "LOC")]


# ---------------------------------------------------------------------------------------------- release


def test_release_reads_every_split_with_its_labels(tmp_path):
    from release_factory import TEXTS_V1, make_release

    release = make_release(tmp_path / "rel", "1.0.0", TEXTS_V1)
    out = tmp_path / "release.jsonl"
    report = convert(release, "release", "documents", out)
    assert report.valid, report.problems
    docs = read_jsonl(out)
    expected = []
    for split, texts in TEXTS_V1.items():
        for text in texts:
            word = text.rsplit(" ", 1)[1]
            expected.append((split, text, [(len(text) - len(word), len(text), word, "GPE")]))
    got = [(d["meta"]["split"], d["text"], [(e["start"], e["end"], e["text"], e["label"]) for e in d["entities"]])
           for d in docs]
    assert sorted(got) == sorted(expected)


# ---------------------------------------------------------------------------------------------- label maps


ANERCORP_MAP = "labels:\n  PERS: PER\n  LOC: LOC\n  ORG: ORG\ndrop: [MISC]\nrelations:\n  located: PHYS.Located\n"


def test_an_anercorp_label_map_maps_pers_and_drops_misc(corpus, tmp_path):
    label_map = tmp_path / "anercorp.yaml"
    label_map.write_text(ANERCORP_MAP, encoding="utf-8")
    out = tmp_path / "mapped.jsonl"
    report = convert(corpus, "documents", "documents", out, label_map=label_map)
    assert report.valid, report.problems
    first, second = read_jsonl(out)
    assert [(e["id"], e["label"]) for e in first["entities"]] == [("T1", "PER"), ("T2", "LOC"), ("T3", "ORG"),
                                                                 ("T4", "LOC")]
    assert first["relations"] == [dict(SAMPLE["relations"][0], label="PHYS.Located")]
    assert second["entities"] == []
    dropped = [p for p in report.problems if p.code == "convert-label-dropped"]
    assert [(p.severity, p.details) for p in dropped] == [("warning", {"entities": {"MISC": 1}, "relations": {}})]


def test_labels_the_ontology_lacks_are_one_error_with_counts_and_nothing_is_written(corpus, tmp_path, ontology):
    out = tmp_path / "out.jsonl"
    out.write_text("previous\n", encoding="utf-8")
    report = convert(corpus, "documents", "documents", out, ontology=ontology)
    assert [(p.code, p.file) for p in report.errors] == [("convert-unmapped-label", str(corpus))]
    [error] = report.errors
    assert error.details == {"entities": {"PERS": 1, "MISC": 1}, "relations": {"located": 1}}
    assert "MISC (1)" in error.message and "PERS (1)" in error.message and "located (1)" in error.message
    assert out.read_text(encoding="utf-8") == "previous\n" and report.stats["written"] is False


def test_a_label_map_alone_checks_against_the_default_ontology(corpus, tmp_path):
    label_map = tmp_path / "partial.yaml"
    label_map.write_text("labels: {PERS: PER}\n", encoding="utf-8")
    report = convert(corpus, "documents", "documents", tmp_path / "out.jsonl", label_map=label_map)
    [error] = report.errors
    assert error.code == "convert-unmapped-label"
    assert error.details == {"entities": {"MISC": 1}, "relations": {"located": 1}}
    assert not (tmp_path / "out.jsonl").exists()


def test_drop_unmapped_drops_spans_and_the_relations_that_lose_an_argument(corpus, tmp_path, ontology):
    out = tmp_path / "out.jsonl"
    report = convert(corpus, "documents", "documents", out, ontology=ontology, drop_unmapped=True)
    assert report.valid
    first, second = read_jsonl(out)
    assert [e["id"] for e in first["entities"]] == ["T2", "T3", "T4"] and first["relations"] == []
    assert second["entities"] == []
    found = {p.code: (p.severity, p.details) for p in report.problems if p.code.startswith("convert-")}
    assert found == {
        "convert-unmapped-dropped": ("warning", {"entities": {"PERS": 1, "MISC": 1}, "relations": {}}),
        "convert-relation-lost": ("warning", {"relations": {"located": 1}}),
    }
    assert report.stats["entities"] == 3 and report.stats["relations"] == 0


@pytest.mark.parametrize(("text", "expected"), [
    ("labels:\n  PERS: PER\n  PERS: LOC\n", ("labelmap-unreadable", 3, "$.labels.PERS")),
    ("labels:\n  PERS: !!binary aGVsbG8=\n", ("labelmap-unreadable", 2, "$.labels.PERS")),
    ("labels:\n  <<: {PERS: PER}\n", ("labelmap-unreadable", 2, "$.labels")),
    ("labels:\n  PERS: [PER]\n", ("labelmap-schema", 2, "$.labels.PERS")),
    ("labels: {PERS: PER}\nrenames: {}\n", ("labelmap-schema", 1, "$")),
    ("labels:\n  PERS: PER\n  LOC: PLACE\n", ("labelmap-unknown-target", 3, "$.labels.LOC")),
    ("labels: &a {PERS: PER}\nrelations: *a\n", ("labelmap-unreadable", 2, None)),
    ("labels: [PERS\n", ("labelmap-unreadable", 2, None)),
    ("- PERS\n", ("labelmap-unreadable", 1, None)),
])
def test_a_bad_label_map_is_a_located_error_and_nothing_is_read(corpus, tmp_path, text, expected):
    label_map = tmp_path / "map.yaml"
    label_map.write_text(text, encoding="utf-8")
    report = convert(corpus, "documents", "documents", tmp_path / "out.jsonl", label_map=label_map)
    assert [(p.code, p.line, p.json_path) for p in report.problems] == [expected]
    assert report.problems[0].file == str(label_map)
    assert not (tmp_path / "out.jsonl").exists()


# ---------------------------------------------------------------------------------------------- output


def _write_folder(documents, path: Path, ctx) -> None:
    for doc in documents:
        (path / f"{doc.id}.txt").write_text(doc.text, encoding="utf-8")


@pytest.fixture
def folder_format(monkeypatch):
    fmt = Format(name="folder-test", summary="one .txt per document", writer=_write_folder, output="folder")
    monkeypatch.setitem(registry._FORMATS, fmt.name, fmt)
    return fmt


def test_a_folder_output_is_replaced_only_when_convert_wrote_it(corpus, tmp_path, folder_format):
    out = tmp_path / "folder"
    assert convert(corpus, "documents", "folder-test", out).valid
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "doc-1.txt", "doc-2.txt"]
    (out / "doc-1.txt").write_text("edited", encoding="utf-8")
    assert convert(write_jsonl(tmp_path / "one.jsonl", [SECOND]), "documents", "folder-test", out).valid
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "doc-2.txt"]  # the previous output replaced whole
    assert json.loads((out / MARKER).read_text(encoding="utf-8"))["documents"] == 1
    project = tmp_path / "brat-project"
    project.mkdir()
    (project / "a.ann").write_text("T1\tPER 0 1\tx\n", encoding="utf-8")
    with pytest.raises(InputError, match="convert did not write"):
        convert(corpus, "documents", "folder-test", project)
    assert sorted(p.name for p in project.iterdir()) == ["a.ann"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["brat-project", "folder", "in.jsonl", "one.jsonl"]


def test_a_failing_conversion_leaves_a_folder_output_as_it_was(corpus, tmp_path, folder_format, ontology):
    out = tmp_path / "folder"
    assert convert(corpus, "documents", "folder-test", out).valid
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    report = convert(write_jsonl(tmp_path / "one.jsonl", [SECOND]), "documents", "folder-test", out,
                     ontology=ontology)
    assert [p.code for p in report.errors] == ["convert-unmapped-label"]
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_out_that_is_the_input_or_the_wrong_kind_is_refused(corpus, tmp_path, folder_format):
    with pytest.raises(InputError, match="both the input and --out"):
        convert(corpus, "documents", "documents", corpus)
    with pytest.raises(InputError, match="is a folder; format 'documents' writes a file"):
        convert(corpus, "documents", "documents", tmp_path)
    with pytest.raises(InputError, match="is a file; format 'folder-test' writes a folder"):
        convert(corpus, "documents", "folder-test", _file(tmp_path))
    with pytest.raises(InputError, match="does not exist"):
        convert(corpus, "documents", "documents", tmp_path / "missing" / "out.jsonl")
    out = tmp_path / "folder"
    assert convert(corpus, "documents", "folder-test", out).valid
    inside = write_jsonl(out / "in.jsonl", [SECOND])
    with pytest.raises(InputError, match="inside --out"):  # replacing the folder would delete the input
        convert(inside, "documents", "folder-test", out)
    assert inside.exists()
    with pytest.raises(InputError, match="inside the input folder"):
        convert(out, "documents", "folder-test", out / "sub")


def _file(tmp_path: Path) -> Path:
    path = tmp_path / "a-file"
    path.write_text("x", encoding="utf-8")
    return path


def test_unknown_formats_and_options_are_refused(corpus, tmp_path):
    with pytest.raises(InputError, match="unknown format 'nope'"):
        convert(corpus, "nope", "documents", tmp_path / "o.jsonl")
    with pytest.raises(InputError, match="cannot be written"):
        convert(corpus, "documents", "release", tmp_path / "o.jsonl")
    with pytest.raises(InputError, match="has no option colour"):
        convert(corpus, "documents", "tasks", tmp_path / "o.json", write_options={"colour": "red"})


def test_split_options_sends_a_key_to_the_side_that_declares_it():
    assert split_options(["annotation=latest", "model_version=m1"], "labelstudio", "tasks") == (
        {"annotation": "latest"}, {"model_version": "m1"})
    assert split_options(["write:model_version=m2"], "documents", "tasks") == ({}, {"model_version": "m2"})
    with pytest.raises(InputError, match="no format option 'model_version' for documents"):
        split_options(["read:model_version=m"], "documents", "tasks")
    with pytest.raises(InputError, match="not KEY=VALUE"):
        split_options(["annotation"], "labelstudio", "tasks")


# ---------------------------------------------------------------------------------------------- CLI


def test_cli_exit_codes_and_json_is_exactly_the_report(corpus, tmp_path, ontology):
    out = tmp_path / "out.jsonl"
    ok = run("convert", str(corpus), "--from", "documents", "--to", "documents", "--out", str(out))
    assert ok.returncode == 0, ok.stderr
    assert "Wrote" in ok.stderr and read_jsonl(out) == [SAMPLE, SECOND]

    bad = run("convert", str(corpus), "--from", "documents", "--to", "documents", "--out", str(tmp_path / "b.jsonl"),
              "--ontology", "annotations/ontology.yaml", "--json")
    assert bad.returncode == 1, bad.stderr
    expected = convert(corpus, "documents", "documents", tmp_path / "c.jsonl", ontology=ontology).to_dict()
    assert json.loads(bad.stdout) == expected
    assert not (tmp_path / "b.jsonl").exists()

    usage = run("convert", str(corpus), "--from", "nope", "--to", "documents", "--out", str(tmp_path / "d.jsonl"))
    assert usage.returncode == 2 and "unknown format 'nope'" in usage.stderr
    option = run("convert", str(corpus), "--from", "documents", "--to", "tasks", "--out", str(tmp_path / "e.json"),
                 "--option", "colour=red")
    assert option.returncode == 2 and "no format option 'colour'" in option.stderr
    missing = run("convert", str(tmp_path / "missing.jsonl"), "--from", "documents", "--to", "documents", "--out",
                  str(tmp_path / "f.jsonl"))
    assert missing.returncode == 3 and missing.stderr.startswith("Error: no such file or folder")
    assert "Traceback" not in missing.stderr + usage.stderr + bad.stderr


def test_cli_help_lists_every_registered_format_with_its_options():
    result = run("convert", "--help")
    assert result.returncode == 0
    help_text = " ".join(result.stdout.split())
    assert formats()
    for fmt in formats().values():
        assert f"{fmt.name} {fmt.directions} " in help_text, fmt.name
        for key in fmt.options:
            assert f"--option {key}=..." in help_text


@pytest.mark.parametrize("name", ["wojood", "anercorp"])
def test_the_shipped_label_maps_map_onto_the_ontology(name, ontology):
    from corpus_tools.interop.labelmap import read_label_map

    report = Report()
    mapped = read_label_map(REPO / "annotations" / "labelmaps" / f"{name}.yaml", report,
                            entity_labels=ontology.entity_labels, relation_labels=ontology.relation_labels)
    assert report.problems == [] and mapped is not None
    assert set(mapped.labels.values()) <= set(ontology.entity_labels)
    assert not set(mapped.labels) & mapped.drop  # a label is mapped or dropped, never both


def test_a_label_map_keeps_numbers_and_booleans_as_the_text_written(tmp_path):
    """Labels are text: a label map read by the one YAML reader keeps ``1``, ``1.0``, ``no`` and dates as written."""
    from corpus_tools.interop.labelmap import read_label_map
    from corpus_tools.report import Report

    label_map = tmp_path / "map.yaml"
    label_map.write_text("labels:\n  1: PER\n  true: LOC\n  Y: 2024-01-01\n  X: 1.0\ndrop: [no]\n", encoding="utf-8")
    report = Report()
    found = read_label_map(label_map, report)
    assert report.problems == []
    assert dict(found.labels) == {"1": "PER", "true": "LOC", "Y": "2024-01-01", "X": "1.0"}
    assert found.drop == frozenset({"no"})
