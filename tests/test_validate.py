"""validate: one fixture per problem code with its exact (code, task id, json_path), the API and the CLI."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from corpus_tools.errors import InputError
from corpus_tools.report import all_codes
from corpus_tools.validate.driver import validate_document, validate_export, validate_task

FIXTURES = Path(__file__).parent / "fixtures" / "validate"
A = "$[0].annotations[0]"

# fixture -> the exact problems, in report order: (code, task id, json path).
EXPECTED: dict[str, list[tuple[str, object, str | None]]] = {
    "clean.json": [],
    "predictions-as-ids.json": [],
    "documents-clean.jsonl": [],
    # the file as a whole
    "export-empty.json": [("export-empty", None, None)],
    "export-invalid-json-missing-colon.json": [("export-invalid-json", None, "$[1]")],
    "export-truncated.json": [("export-truncated", None, "$[0]")],
    "export-invalid-utf8.json": [("export-invalid-utf8", None, "$[0]")],
    "export-not-array-single-task.json": [("export-not-array", None, "$")],
    "export-not-array-tasks-per-line.json": [("export-not-array", None, "$")],
    "export-schema-string-offset.json": [("export-schema", 101, f"{A}.result[0].value.start")],
    # tasks and annotations
    "task-not-object.json": [("task-not-object", None, "$[1]")],
    "task-missing-text.json": [("task-missing-text", 101, "$[0].data.text")],
    "meta-undeclared-section.json": [("meta-undeclared", 101, "$[0].data.meta.section")],
    "meta-type-published-not-iso.json": [("meta-type", 101, "$[0].data.meta.published")],
    "task-duplicate-article-id.json": [("task-duplicate-article-id", 102, "$[1].data.article_id")],
    "task-duplicate-id.json": [("task-duplicate-id", 101, "$[1].id")],
    "annotation-cancelled.json": [("annotation-cancelled", 101, f"{A}.was_cancelled")],
    "annotation-empty.json": [("annotation-empty", 101, f"{A}.result")],
    "result-unknown-from-name.json": [("result-unknown-from-name", 101, f"{A}.result[0].from_name")],
    "result-unknown-to-name.json": [("result-unknown-to-name", 101, f"{A}.result[2].to_name")],
    # spans
    "span-out-of-range-end-past-text.json": [("span-out-of-range", 101, f"{A}.result[3].value.end")],
    "span-out-of-range-end-before-start.json": [("span-out-of-range", 101, f"{A}.result[1].value.start")],
    "span-empty.json": [("span-empty", 101, f"{A}.result[3].value")],
    "span-text-mismatch.json": [("span-text-mismatch", 101, f"{A}.result[3].value.text")],
    "span-text-whitespace-collapsed.json": [("span-text-whitespace-collapsed", 101, f"{A}.result[1].value.text")],
    "span-text-missing.json": [("span-text-missing", 101, f"{A}.result[3].value")],
    "span-utf16-offsets-after-emoji.json": [("span-utf16-offsets", 101, f"{A}.result[3].value")],
    "span-edge-whitespace-trailing-space.json": [("span-edge-whitespace", 101, f"{A}.result[0].value.end")],
    "span-edge-control-rlm-at-end.json": [("span-edge-control", 101, f"{A}.result[0].value.end")],
    "span-left-edge-inside-word.json": [("span-left-edge-inside-word", 101, f"{A}.result[2].value.start")],
    "span-right-edge-inside-word-cut-name.json": [("span-right-edge-inside-word", 101, f"{A}.result[0].value.end")],
    "span-edge-punctuation-full-stop.json": [("span-edge-punctuation", 101, f"{A}.result[3].value.end")],
    "span-edge-tatweel-after-proclitic.json": [("span-edge-tatweel", 101, f"{A}.result[3].value.start")],
    "span-contains-digit.json": [("span-contains-digit", 101, f"{A}.result[3].value")],
    "span-contains-emoji.json": [("span-contains-emoji", 101, f"{A}.result[3].value")],
    "span-missing-label.json": [("span-missing-label", 101, f"{A}.result[1].value.labels")],
    "span-unknown-label.json": [("span-unknown-label", 101, f"{A}.result[0].value.labels[0]")],
    "span-multiple-labels.json": [("span-multiple-labels", 101, f"{A}.result[3].value.labels")],
    "span-overlap-crossing.json": [("span-overlap", 101, f"{A}.result[4]")],
    "span-duplicate.json": [("span-duplicate", 101, f"{A}.result[4]")],
    "span-duplicate-id.json": [("span-duplicate-id", 101, f"{A}.result[4].id")],
    "prediction-span-unknown-label.json": [
        ("span-unknown-label", 101, "$[0].predictions[0].result[0].value.labels[0]")
    ],
    # relations
    "relation-dangling-to-id.json": [("relation-dangling", 101, f"{A}.result[4].to_id")],
    "relation-self.json": [("relation-self", 101, f"{A}.result[4]")],
    "relation-missing-label.json": [("relation-missing-label", 101, f"{A}.result[4]")],
    "relation-unknown-label.json": [("relation-unknown-label", 101, f"{A}.result[4].labels[0]")],
    "relation-multiple-labels.json": [("relation-multiple-labels", 101, f"{A}.result[4].labels")],
    "relation-domain-org-located.json": [("relation-domain", 101, f"{A}.result[4]")],
    "relation-range-located-in-org.json": [("relation-range", 101, f"{A}.result[4]")],
    "relation-domain-and-range-reversed.json": [
        ("relation-domain", 101, f"{A}.result[4]"),
        ("relation-range", 101, f"{A}.result[4]"),
    ],
    "relation-symmetric-direction-bi-on-directed.json": [
        ("relation-symmetric-direction", 101, f"{A}.result[4].direction")
    ],
    "relation-symmetric-direction-reversed-pair.json": [("relation-symmetric-direction", 101, f"{A}.result[6]")],
    "relation-inner-span.json": [("relation-inner-span", 101, f"{A}.result[6]")],
    "relation-duplicate.json": [("relation-duplicate", 101, f"{A}.result[5]")],
    # canonical document JSONL (task id from the document's meta)
    "document-invalid-json.jsonl": [("document-invalid-json", None, None)],
    "document-not-object.jsonl": [("document-not-object", None, "$")],
    "document-schema-entity-without-text.jsonl": [("document-schema", 101, "$.entities[0]")],
    "document-duplicate-id.jsonl": [("document-duplicate-id", None, "$.id")],
    "document-span-and-relation-errors.jsonl": [
        ("span-text-mismatch", 101, "$.entities[1].text"),
        ("span-left-edge-inside-word", 101, "$.entities[1].start"),
        ("relation-dangling", 101, "$.relations[1].tail"),
    ],
}


def located(report) -> list[tuple[str, object, str | None]]:
    return [(p.code, p.task_id, p.json_path) for p in report.problems]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_gives_exactly_its_problems(name, ontology):
    report = validate_export(FIXTURES / name, ontology=ontology)
    assert located(report) == EXPECTED[name]
    errors = [p for p in report.problems if p.is_error]
    assert report.valid == (not errors)
    for problem in report.problems:
        assert problem.message.endswith((".", ")")) and len(problem.message) > 30


def test_every_fixture_is_listed_and_every_validate_code_has_one():
    assert sorted(p.name for p in FIXTURES.iterdir()) == sorted(EXPECTED)
    codes = {code for code, info in all_codes().items() if info.stage == "validate"}
    covered = {code for problems in EXPECTED.values() for code, _, _ in problems}
    assert codes - covered == set()
    for code in codes:
        assert any(name.startswith(code) for name in EXPECTED), f"no fixture named after {code}"


def test_malformed_files_are_located_by_byte_offset(ontology):
    def one(name):
        [problem] = validate_export(FIXTURES / name, ontology=ontology).problems
        return problem

    raw = (FIXTURES / "export-invalid-utf8.json").read_bytes()
    assert one("export-invalid-utf8.json").byte_offset == raw.index(b"\xff")
    truncated = FIXTURES / "export-truncated.json"
    assert one("export-truncated.json").byte_offset == truncated.stat().st_size
    raw = (FIXTURES / "export-invalid-json-missing-colon.json").read_bytes()
    offset = one("export-invalid-json-missing-colon.json").byte_offset
    token = raw.index(b'"data": {}}]')  # the key that follows 102 without a comma
    assert token <= offset <= token + len(b'"data"')
    assert one("export-empty.json").byte_offset == 0
    assert one("document-invalid-json.jsonl").line == 2


def test_utf16_problem_carries_the_repaired_offsets(ontology):
    [problem] = validate_export(FIXTURES / "span-utf16-offsets-after-emoji.json", ontology=ontology).problems
    task = json.loads((FIXTURES / "span-utf16-offsets-after-emoji.json").read_text(encoding="utf-8"))[0]
    text = task["data"]["text"]
    start = text.index("بغداد")
    assert problem.details == {"start": start, "end": start + len("بغداد"), "utf16_start": start + 1,
                               "utf16_end": start + 1 + len("بغداد")}
    assert problem.annotation_id == 201


def test_whitespace_collapse_is_only_a_warning(ontology):
    report = validate_export(FIXTURES / "span-text-whitespace-collapsed.json", ontology=ontology)
    assert report.valid and [p.severity for p in report.problems] == ["warning"]


def test_stats_count_tasks_annotations_predictions_spans_relations(ontology):
    report = validate_export(FIXTURES / "clean.json", ontology=ontology)
    assert report.stats == {"format": "labelstudio-export", "bytes": (FIXTURES / "clean.json").stat().st_size,
                            "tasks": 2, "annotations": 2, "predictions": 0, "prediction_ids": 0, "spans": 8,
                            "relations": 2}
    report = validate_export(FIXTURES / "predictions-as-ids.json", ontology=ontology)
    assert (report.stats["predictions"], report.stats["prediction_ids"]) == (0, 2)
    report = validate_export(FIXTURES / "prediction-span-unknown-label.json", ontology=ontology)
    assert (report.stats["annotations"], report.stats["predictions"], report.stats["spans"]) == (1, 1, 8)
    report = validate_export(FIXTURES / "documents-clean.jsonl", ontology=ontology)
    assert report.stats["format"] == "document-jsonl"
    assert (report.stats["documents"], report.stats["spans"], report.stats["relations"]) == (2, 4, 2)


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        validate_export(tmp_path / "missing.json")
    with pytest.raises(InputError, match="not a file"):
        validate_export(tmp_path)


def test_max_errors_truncates_but_counts_everything(tmp_path, ontology):
    task = json.loads((FIXTURES / "span-unknown-label.json").read_text(encoding="utf-8"))[0]
    tasks = []
    for i in range(5):
        copy = json.loads(json.dumps(task))
        copy["id"], copy["data"]["article_id"] = i, f"a{i}"
        tasks.append(copy)
    path = tmp_path / "many.json"
    path.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    report = validate_export(path, ontology=ontology, max_errors=2)
    assert [p.task_id for p in report.problems] == [0, 1]
    data = report.to_dict()
    assert data["truncated"] is True and data["errors"] == 5 and data["valid"] is False
    assert data["counts"] == {"span-unknown-label": 5}  # like "errors": every error, kept or not
    result = run("validate", str(path), "--max-errors", "2")
    table = [line.split() for line in result.stderr.splitlines() if "span-unknown-label │" in line]
    assert result.returncode == 1 and table == [["│", "span-unknown-label", "│", "error", "│", "5", "│"]]


def test_progress_reports_bytes_up_to_the_file_size(ontology):
    seen: list[int] = []
    path = FIXTURES / "clean.json"
    validate_export(path, ontology=ontology, progress=seen.append)
    assert seen and seen == sorted(seen) and seen[-1] == path.stat().st_size


def test_validate_task_and_document_in_memory(ontology):
    task = json.loads((FIXTURES / "relation-dangling-to-id.json").read_text(encoding="utf-8"))[0]
    assert [(p.code, p.json_path) for p in validate_task(task, ontology=ontology)] == [
        ("relation-dangling", "$.annotations[0].result[4].to_id")
    ]
    assert [p.json_path for p in validate_task(task, ontology=ontology, index=7)] == [
        "$[7].annotations[0].result[4].to_id"
    ]
    assert [p.code for p in validate_task([1], ontology=ontology)] == ["task-not-object"]  # type: ignore[arg-type]
    doc = json.loads((FIXTURES / "documents-clean.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert validate_document(doc, ontology=ontology) == []
    doc["entities"][0]["label"] = "PERSON"
    assert [(p.code, p.json_path, p.line) for p in validate_document(doc, ontology=ontology, line=4)] == [
        ("span-unknown-label", "$.entities[0].label", 4)
    ]


def test_bom_and_not_json_are_located(tmp_path, ontology):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + (FIXTURES / "clean.json").read_bytes())
    assert [(p.code, p.byte_offset) for p in validate_export(path, ontology=ontology)] == [("export-invalid-json", 0)]
    path.write_bytes(b"  <html>")
    assert [(p.code, p.byte_offset) for p in validate_export(path, ontology=ontology)] == [("export-invalid-json", 2)]
    path.write_text("[1] [2]", encoding="utf-8")
    problems = validate_export(path, ontology=ontology).problems
    assert [p.code for p in problems] == ["task-not-object", "export-invalid-json"]
    path.write_bytes(b"\n 42")
    assert [(p.code, p.byte_offset) for p in validate_export(path, ontology=ontology)] == [("export-not-array", 2)]
    for text, kind in ((b"null\n", "null"), (b" true", "a boolean"), (b"-1.5e3 ", "a number")):
        path.write_bytes(text)
        [problem] = validate_export(path, ontology=ontology).problems
        assert (problem.code, kind in problem.message) == ("export-not-array", True)
    for text in (b"not json\n", b"nullx", b"truth", b"-", b"12abc", b"01"):  # not a JSON value, whatever it starts with
        path.write_bytes(text)
        assert [p.code for p in validate_export(path, ontology=ontology)] == ["export-invalid-json"], text
    path.write_bytes(b"[]")
    assert validate_export(path, ontology=ontology).valid


# ---------------------------------------------------------------------------------------------- CLI
def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "corpus_tools", *args], capture_output=True, text=True, timeout=120)


def test_cli_json_prints_exactly_the_report(ontology):
    path = FIXTURES / "relation-domain-and-range-reversed.json"
    result = run("validate", "--json", str(path))
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout) == validate_export(path, ontology=ontology).to_dict()


def test_cli_exit_codes_and_grouped_counts():
    ok = run("validate", str(FIXTURES / "clean.json"))
    assert ok.returncode == 0 and ok.stdout == "" and "valid" in ok.stderr
    bad = run("validate", str(FIXTURES / "relation-domain-and-range-reversed.json"))
    assert bad.returncode == 1 and bad.stdout == ""
    assert "relation-domain" in bad.stderr and "Traceback" not in bad.stderr
    warn = run("validate", "--quiet", str(FIXTURES / "annotation-empty.json"))
    assert warn.returncode == 0 and warn.stderr == ""
    for name in ("export-truncated.json", "export-invalid-utf8.json", "export-empty.json", "task-not-object.json"):
        result = run("validate", str(FIXTURES / name))
        assert result.returncode == 1 and "Traceback" not in result.stderr, name
    missing = run("validate", str(FIXTURES / "missing.json"))
    assert missing.returncode == 3 and missing.stderr.startswith("Error: no such file")
    usage = run("validate", "--repair-utf16", str(FIXTURES / "clean.json"))
    assert usage.returncode == 2


def test_cli_max_errors_and_repair(tmp_path):
    result = run("validate", "--json", "--max-errors", "1", str(FIXTURES / "relation-domain-and-range-reversed.json"))
    report = json.loads(result.stdout)
    assert result.returncode == 1 and report["truncated"] and report["errors"] == 2 and len(report["problems"]) == 1
    fixed = tmp_path / "fixed.json"
    source = FIXTURES / "span-utf16-offsets-after-emoji.json"
    result = run("validate", "--repair-utf16", "--out", str(fixed), str(source))
    assert result.returncode == 0, result.stderr
    assert "Repaired 1 span" in result.stderr
    assert run("validate", str(fixed)).returncode == 0


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("nested", ["span-overlap"]), ("forbid", ["span-overlap", "span-overlap"]), ("any", [])],
)
def test_overlap_policy_decides(policy, expected, ontology):
    """A nested span (inside 'جامعة الدول العربية') and a crossing one, under each policy."""
    import dataclasses

    task = json.loads((FIXTURES / "span-overlap-crossing.json").read_text(encoding="utf-8"))[0]
    text = task["data"]["text"]
    start = text.index("الدول العربية")
    task["annotations"][0]["result"].append(
        {"id": "nested", "from_name": "label", "to_name": "text", "type": "labels",
         "value": {"start": start, "end": start + len("الدول العربية"), "text": "الدول العربية", "labels": ["ORG"]}}
    )
    found = validate_task(task, ontology=dataclasses.replace(ontology, overlap=policy))
    assert [p.code for p in found] == expected
    if policy == "nested":
        assert found[0].json_path == "$.annotations[0].result[4]" and found[0].details == {"other": "nested"}


def test_schema_errors_owned_by_a_semantic_code_are_reported_once(ontology):
    task = {"annotations": [{"id": 1, "result": [{"id": "x", "from_name": "label", "to_name": "text",
                                                  "type": "labels", "value": {"end": 3}}]}]}
    assert [(p.code, p.json_path) for p in validate_task(task, ontology=ontology)] == [
        ("export-schema", "$"),  # 'id' is required; the missing 'data' is task-missing-text
        ("export-schema", "$.annotations[0].result[0].value"),  # 'start' is required
        ("task-missing-text", "$.data.text"),
        ("span-missing-label", "$.annotations[0].result[0].value.labels"),
    ]


def test_a_label_that_is_not_a_string_is_a_schema_error(ontology):
    """A span or relation label that is a number is no label of the ontology: the label rules read only strings,
    so the schema pass reports it (it once treated it as owned by span-unknown-label, and the export passed)."""
    text = "محمد في بغداد"
    task = {"id": 1, "data": {"text": text}, "annotations": [{"id": 2, "result": [
        {"id": "a", "from_name": "label", "to_name": "text", "type": "labels",
         "value": {"start": 0, "end": len("محمد"), "text": "محمد", "labels": [5]}},
        {"id": "b", "from_name": "label", "to_name": "text", "type": "labels",
         "value": {"start": len("محمد في "), "end": len(text), "text": "بغداد", "labels": ["GPE"]}},
        {"from_id": "a", "to_id": "b", "type": "relation", "direction": "right", "labels": [7]},
    ]}]}
    assert [(p.code, p.json_path) for p in validate_task(task, ontology=ontology)] == [
        ("export-schema", "$.annotations[0].result[0].value.labels[0]"),
        ("export-schema", "$.annotations[0].result[2].labels[0]"),
    ]


def test_a_file_name_that_is_not_utf8_is_shown_escaped_in_valid_json(tmp_path):
    bad = os.path.join(os.fsencode(tmp_path), b"x\xff.json")
    with open(bad, "wb") as handle:
        handle.write(b"[")
    shown = os.path.join(str(tmp_path), "x\\xff.json")
    for env in ({}, {"PYTHONIOENCODING": "utf-8"}):
        result = subprocess.run([sys.executable, "-m", "corpus_tools", "validate", bad, "--json"],
                                capture_output=True, timeout=120, env={**os.environ, **env})
        assert result.returncode == 1 and b"Traceback" not in result.stderr, result.stderr
        report = json.loads(result.stdout.decode("utf-8"))
        assert [(p["code"], p["file"]) for p in report["problems"]] == [("export-truncated", shown)]


def test_cli_document_problems_name_the_file_and_line():
    path = FIXTURES / "document-not-object.jsonl"
    result = run("validate", str(path))
    assert result.returncode == 1
    assert f"[document-not-object] {path}:2, $:" in " ".join(result.stderr.split())
    (problem,) = validate_export(path).problems
    assert (problem.file, problem.line) == (str(path), 2)


def test_cli_unreadable_export_or_ontology_is_exit_3_with_the_tools_message():
    from unprivileged import run_cli_as_nobody, shared_tmp

    clean = FIXTURES / "clean.json"
    with shared_tmp() as folder:
        export = folder / "export.json"
        export.write_bytes(clean.read_bytes())
        ontology = folder / "ontology.yaml"
        ontology.write_bytes(Path(__file__).resolve().parents[1].joinpath("annotations", "ontology.yaml").read_bytes())
        os.chmod(export, 0)
        os.chmod(ontology, 0)
        for argv, said in [
            (["validate", str(export)], f"Error: cannot read {export}: permission denied"),
            (["validate", str(clean), "--ontology", str(ontology)], f"Error: cannot read ontology {ontology}"),
            (["ontology", "check", str(ontology)], f"Error: cannot read ontology {ontology}"),
            (["ontology", "export", "--target", "brat", str(ontology)], f"Error: cannot read ontology {ontology}"),
        ]:
            code, output = run_cli_as_nobody(argv, warm=["validate", str(clean)])
            lines = output.strip().splitlines()
            assert code == 3 and len(lines) == 1 and lines[0].startswith(said), (argv, output)


def test_cli_repair_into_an_unwritable_folder_is_exit_3_and_writes_nothing():
    from unprivileged import run_cli_as_nobody, shared_tmp

    export = FIXTURES / "span-utf16-offsets-after-emoji.json"
    with shared_tmp() as folder:
        read_only = folder / "ro"
        read_only.mkdir(mode=0o555)
        out = read_only / "x.json"
        warm = folder / "warm"
        warm.mkdir(mode=0o777)
        repair = ["validate", str(export), "--repair-utf16", "--out"]
        code, output = run_cli_as_nobody([*repair, str(out)], warm=[*repair, str(warm / "x.json")])
        lines = output.strip().splitlines()
        assert code == 3 and lines == [f"Error: cannot write {out}: Permission denied"], output
        assert list(read_only.iterdir()) == []


def test_cli_repair_onto_the_export_itself_is_refused(tmp_path):
    export = tmp_path / "export.json"
    original = (FIXTURES / "span-utf16-offsets-after-emoji.json").read_bytes()
    export.write_bytes(original)
    for out in (export, tmp_path / "sub" / ".." / "export.json"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        result = run("validate", str(export), "--repair-utf16", "--out", str(out))
        assert result.returncode == 3 and result.stderr.startswith(f"Error: {export} is both the export and --out")
        assert export.read_bytes() == original


# -- every problem names the file it was found in (issue 23) -------------------------------------------------------
SPAN_TEXT_MISMATCH_LINE = (
    "error: [span-text-mismatch] {file}, task 101, annotation 201, $[0].annotations[0].result[3].value.text: The"
    " stored span text 'الموصل' is not text[71:76] 'بغداد'; fix the offsets so they select the intended text (code"
    " points, end exclusive), or fix the stored text.")


def test_cli_per_task_problems_name_the_export_in_text_and_json():
    path = FIXTURES / "span-text-mismatch.json"
    result = run("validate", str(path))
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == SPAN_TEXT_MISMATCH_LINE.format(file=path)
    as_json = json.loads(run("validate", "--json", str(path)).stdout)
    assert [(p["code"], p["file"], p["json_path"]) for p in as_json["problems"]] == [
        ("span-text-mismatch", str(path), "$[0].annotations[0].result[3].value.text")]


@pytest.mark.parametrize("workers", [1, 2])
def test_every_problem_of_an_export_names_it_in_both_paths(workers):
    """The segment path (in this process or in workers) and the stream path (a file the segments leave to it)
    name the export in every per-task and whole-export problem."""
    from corpus_tools.report import Report
    from corpus_tools.validate.driver import iter_validated

    for name in ["span-text-mismatch.json", "task-duplicate-article-id.json", "task-not-object.json",
                 "export-schema-string-offset.json"]:
        path = FIXTURES / name
        report = validate_export(path, workers=workers)
        assert report.problems and {p.file for p in report.problems} == {str(path)}, name
        streamed = Report()
        for _ in iter_validated(path, streamed):
            pass
        assert streamed.to_dict() == report.to_dict(), name


def test_cli_a_task_id_used_twice_is_one_located_error_naming_both_tasks():
    path = FIXTURES / "task-duplicate-id.json"
    result = run("validate", str(path))
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        f"error: [task-duplicate-id] {path}, task 101, $[1].id: Task id 101 is also the id of item 0"
        " (data.article_id 'art-7'): Label Studio gives every task its own id, so the export was edited or merged"
        " from two projects; export the project again, or give one of the tasks another id.")


def _document(text: str, entities: list[tuple[str, str, int, int]], relations=()) -> dict:
    return {"id": "d1", "text": text, "meta": {"task_id": 7},
            "entities": [{"id": i, "label": label, "start": start, "end": end, "text": text[start:end]}
                         for i, label, start, end in entities],
            "relations": [{"head": head, "tail": tail, "label": label} for head, label, tail in relations]}


@pytest.mark.parametrize(
    ("text", "start", "end", "expected"),
    [
        # punctuation at either edge (guidelines §3.8): the trimmed offsets are in the details
        ("زار لبنان.", len("زار "), len("زار لبنان."), [("span-edge-punctuation", "$.entities[0].end")]),
        ("منظمة (أوبك) اليوم", len("منظمة "), len("منظمة (أوبك)"),
         [("span-edge-punctuation", "$.entities[0].start"), ("span-edge-punctuation", "$.entities[0].end")]),
        ("قالت «رويترز» إن", len("قالت "), len("قالت «رويترز"), [("span-edge-punctuation", "$.entities[0].start")]),
        ("زار لبنان، ثم", len("زار "), len("زار لبنان،"), [("span-edge-punctuation", "$.entities[0].end")]),
        # a tatweel after a proclitic goes with the proclitic (§3.2); one inside a name stays (no problem)
        ("نقلا لـرويترز", len("نقلا ل"), len("نقلا لـرويترز"), [("span-edge-tatweel", "$.entities[0].start")]),
        ("نقلا لـرويترز", len("نقلا لـ"), len("نقلا لـرويترز"), []),
        ("زار بـيـروت", len("زار "), len("زار بـيـروت"), []),
        # digits and emoji are never part of a name (§3.9), wherever they are in the span
        ("قناة فرانس 24 اليوم", len("قناة "), len("قناة فرانس 24"), [("span-contains-digit", "$.entities[0]")]),
        ("قناة ٢٤ فرانس اليوم", len("قناة "), len("قناة ٢٤ فرانس"), [("span-contains-digit", "$.entities[0]")]),
        ("زار بغداد 😀 اليوم", len("زار "), len("زار بغداد 😀"), [("span-contains-emoji", "$.entities[0]")]),
        ("زار 1 بغداد 😀 اليوم", len("زار "), len("زار 1 بغداد 😀"),
         [("span-contains-digit", "$.entities[0]"), ("span-contains-emoji", "$.entities[0]")]),
        # whitespace at an edge is its own code (reported first, punctuation once it is trimmed)
        ("زار لبنان. ثم", len("زار "), len("زار لبنان. "), [("span-edge-whitespace", "$.entities[0].end")]),
    ],
)
def test_guideline_edge_and_content_rules_in_documents(text, start, end, expected, ontology):
    doc = _document(text, [("e1", "GPE", start, end)])
    assert [(p.code, p.json_path) for p in validate_document(doc, ontology=ontology)] == expected


def test_punctuation_problem_gives_the_trimmed_offsets(ontology):
    text = "منظمة (أوبك) اليوم"
    doc = _document(text, [("e1", "ORG", len("منظمة "), len("منظمة (أوبك)"))])
    problems = validate_document(doc, ontology=ontology)
    assert [p.details for p in problems] == [{"start": len("منظمة ("), "end": len("منظمة (أوبك")}] * 2
    assert all(p.is_error and p.task_id == 7 for p in problems)


def test_a_relation_to_or_from_a_nested_span_is_an_error(ontology):
    text = "قال سامي النجار أمام الجمعية العامة للأمم المتحدة"
    outer, inner = len("قال سامي النجار أمام "), len("قال سامي النجار أمام الجمعية العامة ل")
    doc = _document(text, [("p", "PER", len("قال "), len("قال سامي النجار")), ("o", "ORG", outer, len(text)),
                           ("i", "ORG", inner, len(text))],
                    [("p", "ORG-AFF.Membership", "i"), ("p", "ORG-AFF.Employment", "o"),
                     ("i", "PART-WHOLE.Subsidiary", "o")])
    assert [(p.code, p.json_path, p.details) for p in validate_document(doc, ontology=ontology)] == [
        ("relation-inner-span", "$.relations[0]", {"span": "i"}),
        ("relation-inner-span", "$.relations[2]", {"span": "i"}),
    ]
    # under the forbid policy the nesting itself is the error, never the relation
    forbid = dataclasses.replace(ontology, overlap="forbid")
    assert [p.code for p in validate_document(doc, ontology=forbid)] == ["span-overlap"]
