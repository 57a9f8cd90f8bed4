"""validate on hostile input: located errors in big files, arbitrary JSON anywhere, repair's atomic write."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus_tools.validate.driver import repair_utf16_export, validate_export, validate_task

FIXTURES = Path(__file__).parent / "fixtures" / "validate"
CLEAN = json.loads((FIXTURES / "clean.json").read_text(encoding="utf-8"))


def big_export(tasks: int = 300) -> list[dict]:
    """More than one 64 KiB parser chunk of tasks."""
    out = []
    for i in range(tasks):
        task = json.loads(json.dumps(CLEAN[0]))
        task["id"], task["data"]["article_id"] = i, f"art-{i}"
        out.append(task)
    return out


def test_syntax_error_deep_in_a_big_file_is_located(tmp_path, ontology):
    raw = json.dumps(big_export(), ensure_ascii=False).encode("utf-8")
    at = raw.index(b'"id": 250')
    broken = raw[:at] + b'"id" 250' + raw[at + len(b'"id": 250'):]
    path = tmp_path / "broken.json"
    path.write_bytes(broken)
    [problem] = validate_export(path, ontology=ontology).problems
    assert problem.code == "export-invalid-json" and problem.json_path == "$[250]"
    assert at < 64 * 1024 * 10 and at <= problem.byte_offset <= at + len(b'"id" 250')


def test_invalid_utf8_deep_in_a_big_file_is_exact(tmp_path, ontology):
    raw = json.dumps(big_export(), ensure_ascii=False).encode("utf-8")
    at = raw.index("بغداد".encode(), 200_000)
    path = tmp_path / "latin.json"
    path.write_bytes(raw[:at] + b"\xc3\x28" + raw[at:])
    [problem] = validate_export(path, ontology=ontology).problems
    assert (problem.code, problem.byte_offset) == ("export-invalid-utf8", at)


def test_encoded_surrogates_are_invalid_utf8(tmp_path, ontology):
    raw = json.dumps(CLEAN, ensure_ascii=False).encode("utf-8")
    at = raw.index("بغداد".encode())
    path = tmp_path / "cesu.json"
    path.write_bytes(raw[:at] + b"\xed\xa0\x80" + raw[at:])
    assert [(p.code, p.byte_offset) for p in validate_export(path, ontology=ontology)] == [
        ("export-invalid-utf8", at)
    ]


def test_truncated_after_some_tasks_counts_them(tmp_path, ontology):
    raw = json.dumps(big_export(20), ensure_ascii=False).encode("utf-8")
    cut = raw.index(b'"id": 12,')
    path = tmp_path / "cut.json"
    path.write_bytes(raw[:cut])
    report = validate_export(path, ontology=ontology)
    [problem] = report.problems
    assert (problem.code, problem.json_path, problem.byte_offset) == ("export-truncated", "$[12]", cut)
    assert report.stats["tasks"] == 12


def test_lone_surrogate_escapes_never_crash(tmp_path, ontology):
    task = json.loads(json.dumps(CLEAN[0]))
    task["data"]["title"] = "\udc00"
    path = tmp_path / "surrogate.json"
    path.write_text(json.dumps([CLEAN[1], task]), encoding="utf-8")  # ASCII escapes: valid JSON, valid UTF-8
    assert [(p.code, p.task_id, p.json_path) for p in validate_export(path, ontology=ontology)] == [
        ("export-invalid-json", task["id"], "$[1].data.title")
    ]
    task["data"]["title"] = "\ud800"  # yajl would read a lone high surrogate as "?": refused, never changed
    path.write_text(json.dumps([task]), encoding="utf-8")
    assert [(p.code, p.task_id, p.json_path) for p in validate_export(path, ontology=ontology)] == [
        ("export-invalid-json", task["id"], "$[0].data.title")
    ]


def test_repair_writes_nothing_for_a_malformed_file(tmp_path, ontology):
    out = tmp_path / "fixed.json"
    report = repair_utf16_export(FIXTURES / "export-truncated.json", out, ontology=ontology)
    assert [p.code for p in report.problems] == ["export-truncated"]
    assert report.stats["written"] is False and list(tmp_path.iterdir()) == []


def test_repair_copies_a_valid_export_unchanged_and_repairs_documents(tmp_path, ontology):
    out = tmp_path / "same.json"
    report = repair_utf16_export(FIXTURES / "clean.json", out, ontology=ontology)
    assert report.stats["repaired_spans"] == 0 and report.valid
    assert json.loads(out.read_text(encoding="utf-8")) == CLEAN
    text = "😀 زار محمد باريس"
    doc = {"id": "d", "text": text, "entities": [{"id": "p", "start": len("😀 زار ") + 1,
                                                  "end": len("😀 زار محمد") + 1, "text": "محمد", "label": "PER"}],
           "relations": []}
    source, fixed = tmp_path / "docs.jsonl", tmp_path / "fixed.jsonl"
    source.write_text(json.dumps(doc, ensure_ascii=False) + "\n", encoding="utf-8")
    assert [p.code for p in validate_export(source, ontology=ontology)] == ["span-utf16-offsets"]
    report = repair_utf16_export(source, fixed, ontology=ontology)
    assert report.stats["repaired_spans"] == 1 and report.problems == []
    [line] = fixed.read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["entities"][0]["start"] == len("😀 زار ")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 100) | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


def paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), JSON)
def test_any_json_anywhere_in_a_task_gives_problems_not_exceptions(data, junk):
    task = json.loads(json.dumps(CLEAN[0]))
    path = data.draw(st.sampled_from(list(paths(task))[1:]))
    holder = task
    for key in path[:-1]:
        holder = holder[key]
    if data.draw(st.booleans()) and isinstance(holder, dict):
        del holder[path[-1]]
    else:
        holder[path[-1]] = junk
    for problem in validate_task(task, ontology=None):
        assert problem.json_path is None or problem.json_path.startswith("$")


@pytest.mark.parametrize(("data", "kind", "form"), [
    (b" \n[{}]", "export", "labelstudio"),
    (b"\xef\xbb\xbf [{}]", "bom", "labelstudio"),
    (b"\xef\xbb\xbf{}", "bom", "documents"),
    (b'{"id": "a", "text": "t"}\n', "documents", "documents"),
    (b'{"data": {"text": "t"}}\n', "tasks-jsonl", "documents"),
    (b'"text"', "not-array", "other"),
    (b"   ", "empty", "other"),
    (b"hello", "invalid", "other"),
])
def test_one_sniffer_tells_validate_its_kind_and_build_its_form(tmp_path, data: bytes, kind: str, form: str) -> None:
    from corpus_tools.build.driver import input_format
    from corpus_tools.validate.reading import sniff

    path = tmp_path / "input.json"
    path.write_bytes(data)
    assert (sniff(path).kind, sniff(path).form, input_format(path)) == (kind, form, form)


@pytest.mark.parametrize("workers", [1, 2])
def test_segments_give_the_report_of_the_stream_reading(tmp_path, monkeypatch, workers: int) -> None:
    """validate reads an export in segments (in workers or here); the stream reading, which locates what the
    segments cannot read, is the reference: same problems in the same order, same statistics."""
    from build_inputs import simple_export, write_export

    from corpus_tools.report import Report
    from corpus_tools.validate import driver, segmented
    from corpus_tools.validate.driver import iter_validated

    tasks = simple_export(40)
    tasks[3]["annotations"][0]["result"][0]["value"]["start"] += 1  # a span whose offsets miss its text
    tasks.append(json.loads(json.dumps(tasks[5])) | {"id": 99})  # an article imported twice
    tasks.insert(7, 17)  # not a task object
    tasks[20]["annotations"][0]["was_cancelled"] = True
    tasks[30]["id"] = tasks[12]["id"]  # a task id used twice (by two articles)
    tasks[33]["id"] = tasks[41]["id"]  # twice by the same task: one problem, of its article
    path = write_export(tmp_path / "export.json", tasks)
    monkeypatch.setattr(segmented, "SEGMENT_BYTES", 4096)
    monkeypatch.setattr(driver, "VALIDATE_SEGMENT_BYTES", 4096)
    stream = Report()
    for _ in iter_validated(path, stream):
        pass
    segments = validate_export(path, workers=workers)
    assert segments.to_dict() == stream.to_dict()
    repeated = [(p.code, p.json_path, p.details) for p in stream.problems if p.code.startswith("task-duplicate")]
    assert repeated == [
        ("task-duplicate-id", "$[30].id", {"first_index": 12, "first_article_id": tasks[12]["data"]["article_id"]}),
        ("task-duplicate-article-id", "$[41].data.article_id", {"first_index": 5, "first_task_id": 6}),
    ]
    truncated = validate_export(path, workers=workers, max_errors=1)
    assert truncated.to_dict()["errors"] == stream.to_dict()["errors"] and len(truncated.errors) == 1
