"""The build in worker processes over segments of the export against the build in this process.

Every export is built both ways (``workers=0``: this process alone; 1 and 2 workers).  Same files byte for
byte, same report (problems in the same order, same statistics), whatever the number of workers and however
the export is cut into segments or read (as a stream when it cannot be cut).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from build_inputs import annotation, news_article, simple_export, task, write_export

from corpus_tools.build.driver import build_release
from corpus_tools.errors import InvalidDataError
from corpus_tools.validate import segmented


def _files(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _report(report: dict) -> dict:
    report = json.loads(json.dumps(report))
    report.get("stats", {}).pop("workers", None)
    return report


def _build(export: Path, out: Path, workers: int) -> tuple[str, dict, dict]:
    try:
        result = build_release(export, version="1.0.0", out=out, name="test/arabic-news", workers=workers)
    except InvalidDataError as exc:
        return "refused", _report(exc.report.to_dict()), {}
    return result.report.stats["workers"], _report(result.report.to_dict()), _files(out)


def _mixed_tasks() -> list[dict]:
    """Tasks that exercise every gold rule, cancelled and extra annotations, predictions, e-mail annotators."""
    tasks = simple_export(30)
    art = news_article(40)
    gold = art.result("g-")
    other = [item for item in art.result("o-") if item["type"] == "labels" and item["value"]["labels"] != ["GPE"]]
    tasks.append(task(41, art, [annotation(2001, gold, annotator=1, ground_truth=True),
                                annotation(2002, other, annotator={"id": 7, "email": "Reviewer@Example.org"})]))
    art = news_article(41)
    tasks.append(task(42, art, [annotation(2003, art.result("a-"), annotator=1),
                                annotation(2004, art.result("b-"), annotator=2)]))  # ambiguous: left out
    art = news_article(42)
    tasks.append(task(43, art, [annotation(2005, art.result("c-"), cancelled=True)]))  # no live annotation
    art = news_article(43)
    tasks.append(task(44, art, [annotation(2006, art.result("d-"), cancelled=True),
                                annotation(2007, art.result("e-"), annotator=3, lead_time=None)],
                      predictions=[{"id": 9, "model_version": "m1", "score": 0.5, "result": art.result("p-")}]))
    tasks.append(task(45, news_article(44), []))  # unannotated
    tasks[0]["data"]["meta"] = {"published": "2024-03-01", "url": "https://example.org/1", "desk": "world"}
    tasks[1]["data"]["meta"] = {"published": "2024-03-02T09:30:00+03:00", "source_id": "n-2"}
    return tasks


@pytest.fixture
def small_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    """Segments of a few tasks each, so a small export is cut many times."""
    monkeypatch.setattr(segmented, "SEGMENT_BYTES", 4096)


@pytest.mark.parametrize("workers", [1, 2])
def test_parallel_build_equals_serial_build(tmp_path: Path, small_segments: None, workers: int) -> None:
    export = write_export(tmp_path / "export.json", _mixed_tasks())
    serial = _build(export, tmp_path / "serial", 0)
    parallel = _build(export, tmp_path / "parallel", workers)
    assert serial[0] == 1
    assert parallel[0] == workers
    assert parallel[1] == serial[1]
    assert parallel[2] == serial[2]
    codes = [p["code"] for p in serial[1]["problems"]]
    assert codes == ["meta-undeclared", "annotation-cancelled", "annotation-cancelled", "build-gold-ambiguous",
                     "build-gold-missing", "build-gold-missing"]
    assert not (tmp_path / "parallel" / ".segments").exists()


def test_parallel_build_does_not_depend_on_the_cut(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    export = write_export(tmp_path / "export.json", _mixed_tasks())
    monkeypatch.setattr(segmented, "SEGMENT_BYTES", 2048)
    small = _build(export, tmp_path / "small", 2)
    monkeypatch.setattr(segmented, "SEGMENT_BYTES", 1 << 22)
    whole = _build(export, tmp_path / "whole", 2)
    assert small[0] == whole[0] == 2
    assert small[1:] == whole[1:]


def test_invalid_export_is_refused_with_the_same_report(tmp_path: Path, small_segments: None) -> None:
    tasks = simple_export(12)
    # a span whose offsets no longer select its text, and an article imported twice
    item = tasks[3]["annotations"][0]["result"][0]
    item["value"]["start"] += 1
    tasks.append(json.loads(json.dumps(tasks[5])) | {"id": 99})
    tasks.insert(7, 17)  # not a task object
    export = write_export(tmp_path / "export.json", tasks)
    serial = _build(export, tmp_path / "serial", 0)
    parallel = _build(export, tmp_path / "parallel", 2)
    assert serial[0] == parallel[0] == "refused"
    assert parallel[1] == serial[1]
    found = {(p["code"], p.get("json_path")) for p in serial[1]["problems"]}
    assert ("span-text-mismatch", "$[3].annotations[0].result[0].value") in found or any(
        code.startswith("span-") and path and path.startswith("$[3].annotations[0].result[0]")
        for code, path in found)
    assert ("task-not-object", "$[7]") in found
    assert ("task-duplicate-article-id", "$[13].data.article_id") in found
    assert not (tmp_path / "parallel").exists()


@pytest.mark.parametrize("damage", ["truncated", "lone-surrogate", "big-integer", "invalid-utf8"])
def test_what_the_segments_cannot_parse_is_read_as_a_stream(tmp_path: Path, damage: str) -> None:
    export = write_export(tmp_path / "export.json", simple_export(6))
    text = export.read_text(encoding="utf-8")
    if damage == "truncated":
        text = text[: len(text) // 2]
    elif damage == "lone-surrogate":
        text = text.replace('"title": "', '"title": "\\udc00', 1)
    else:
        text = text.replace('"lead_time": 12.5', '"lead_time": 123456789012345678901234567890', 1)
    data = text.encode("utf-8")
    if damage == "invalid-utf8":
        data = data.replace(b'"title": "', b'"title": "\xff', 1)
    export.write_bytes(data)
    serial = _build(export, tmp_path / "serial", 0)
    parallel = _build(export, tmp_path / "parallel", 2)
    assert parallel[0] == serial[0] == "refused"  # yajl, behind validate, refuses integers beyond 64 bits too
    assert parallel[1] == serial[1]
    codes = {"truncated": "export-truncated", "invalid-utf8": "export-invalid-utf8"}
    expected = codes.get(damage, "export-invalid-json")
    assert [p["code"] for p in serial[1]["problems"]] == [expected]


def test_cli_workers_option_changes_the_path_not_the_files(tmp_path: Path) -> None:
    import subprocess
    import sys

    export = write_export(tmp_path / "export.json", _mixed_tasks())
    outcomes = {}
    for workers in ("0", "2"):
        out = tmp_path / f"w{workers}"
        done = subprocess.run([sys.executable, "-m", "corpus_tools", "build", str(export), "--version", "1.0.0",
                               "--out", str(out), "--name", "test/arabic-news", "--workers", workers, "--json"],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        outcomes[workers] = (json.loads(done.stdout)["stats"]["workers"], _files(out))
    assert outcomes["0"][0] == 1 and outcomes["2"][0] == 2
    assert outcomes["0"][1] == outcomes["2"][1]
    bad = subprocess.run([sys.executable, "-m", "corpus_tools", "build", str(export), "--version", "1.0.0",
                          "--out", str(tmp_path / "bad"), "--workers", "-1"], capture_output=True, text=True)
    assert bad.returncode == 2 and not (tmp_path / "bad").exists()


def test_a_worker_that_dies_fails_the_build_and_leaves_nothing(tmp_path: Path, small_segments: None,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from corpus_tools.build.tables import SegmentBuilder
    from corpus_tools.errors import BuildError

    export = write_export(tmp_path / "export.json", simple_export(12))
    real = SegmentBuilder.build

    def dies_on_a_later_segment(self, tasks, first_index):  # the OOM killer, say
        if first_index > 0:
            os._exit(9)
        return real(self, tasks, first_index)

    monkeypatch.setattr(SegmentBuilder, "build", dies_on_a_later_segment)
    out = tmp_path / "releases" / "v1.0.0"
    with pytest.raises(BuildError, match="worker process died"):
        build_release(export, version="1.0.0", out=out, name="test/arabic-news", workers=2)
    assert not out.exists()
    assert list((tmp_path / "releases").iterdir()) == []  # no temporary folder left behind


_SCANS: dict = {}  # scan functions run in forked workers: module-level, so they pickle by name


def _logged_scan(path, config, classlabels, row_groups=None, batch_rows=None, against=None):
    import os

    import pyarrow as pa

    with open(_SCANS["log"], "a", encoding="utf-8") as f:
        f.write(f"{os.getpid()} {config} {batch_rows} {against is not None} {pa.default_memory_pool().backend_name}\n")
    return _SCANS["real"](path, config, classlabels, row_groups, batch_rows, against)


def _dying_scan(*args):  # the OOM killer during the checks, say
    import os

    os._exit(9)


def test_the_release_checks_run_in_the_build_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from corpus_tools.release import scan as release_scan
    export = write_export(tmp_path / "export.json", simple_export(12))
    log = tmp_path / "scans.log"
    monkeypatch.setitem(_SCANS, "log", log)
    monkeypatch.setitem(_SCANS, "real", release_scan.scan_file)
    monkeypatch.setattr(release_scan, "scan_file", _logged_scan)
    result = build_release(export, version="1.0.0", out=tmp_path / "out", name="test/arabic-news", workers=2)
    scans = [line.split() for line in log.read_text(encoding="utf-8").splitlines()]
    assert {config for _, config, _, _, _ in scans} == {"documents", "tokens", "relations", "annotations"}
    assert os.getpid() not in {int(pid) for pid, _, _, _, _ in scans}  # the workers scanned, not this process
    assert {int(rows) for _, _, rows, _, _ in scans} == {release_scan.PROCESS_SCAN_ROWS}
    # each tokens file is compared with its documents rows in the same pass
    assert {(config, against) for _, config, _, against, _ in scans if config == "tokens"} == {("tokens", "True")}
    assert {allocator for *_, allocator in scans} == {"system"}  # the scans' Arrow memory: see checks._guarded
    assert result.report.stats["checks"]["files"] > 0
    log.unlink()
    build_release(export, version="1.0.0", out=tmp_path / "serial", name="test/arabic-news", workers=0)
    scans = [line.split() for line in log.read_text(encoding="utf-8").splitlines()]
    assert {(int(pid), int(rows), allocator) for pid, _, rows, _, allocator in scans} == {
        (os.getpid(), release_scan.SCAN_ROWS, "system")}


def test_a_worker_that_dies_in_the_release_checks_fails_the_build(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from corpus_tools.errors import BuildError
    from corpus_tools.release import scan as release_scan

    export = write_export(tmp_path / "export.json", simple_export(12))
    monkeypatch.setattr(release_scan, "scan_file", _dying_scan)
    out = tmp_path / "releases" / "v1.0.0"
    with pytest.raises(BuildError, match="worker process died"):
        build_release(export, version="1.0.0", out=out, name="test/arabic-news", workers=2)
    assert list((tmp_path / "releases").iterdir()) == []


def test_a_valid_export_the_segments_cannot_take_is_built_from_the_stream(tmp_path: Path) -> None:
    tasks = _mixed_tasks()
    tasks[2]["data"]["title"] = "رقم 12345678901234567890"  # a run of digits: the segments leave it to yajl
    export = write_export(tmp_path / "export.json", tasks)
    in_process = _build(export, tmp_path / "w0", 0)
    forked = _build(export, tmp_path / "w2", 2)
    assert in_process[0] == forked[0] == 1  # read as a stream in this process, the pool ended
    assert forked[1:] == in_process[1:]
    assert forked[1]["valid"] and "data/documents/train-00000-of-00001.parquet" in forked[2]


def _build_problems(report: dict) -> list[dict]:
    return [p for p in report["problems"] if p["code"].startswith("build-")]


@pytest.mark.parametrize(("segmentation", "workers"), [("none", 2), ("none", 0), ("proclitic-article", 2)])
def test_the_rows_are_those_of_the_reference_builder(tmp_path: Path, small_segments: None, segmentation: str,
                                                     workers: int) -> None:
    from reference_rows import reference_release

    from corpus_tools.ontology import load_ontology

    export = write_export(tmp_path / "export.json", _mixed_tasks())
    result = build_release(export, version="1.0.0", out=tmp_path / "built", name="test/arabic-news",
                           segmentation=segmentation, workers=workers)
    reference = reference_release(export, tmp_path / "reference", load_ontology(), segmentation=segmentation)
    built = {name: digest for name, digest in _files(tmp_path / "built").items() if name.startswith("data/")}
    assert built == _files(tmp_path / "reference")
    assert result.stats.to_dict() == reference.stats.to_dict()
    assert _build_problems(result.report.to_dict()) == reference.report.to_dict()["problems"]


def test_document_jsonl_and_gold_rows_are_those_of_the_reference_builder(tmp_path: Path) -> None:
    from reference_rows import reference_release

    from corpus_tools.labelstudio.export import task_to_document, task_to_records
    from corpus_tools.ontology import load_ontology

    tasks = _mixed_tasks()
    documents = tmp_path / "documents.jsonl"
    gold = tmp_path / "gold.jsonl"
    docs = [task_to_document(t, list(task_to_records(t))[0]) for t in tasks[:30]]

    def jsonl(items: list) -> str:
        return "".join(json.dumps(doc.to_dict(), ensure_ascii=False) + "\n" for doc in items)

    documents.write_text(jsonl(docs), encoding="utf-8")
    changed = task_to_document(tasks[20], list(task_to_records(tasks[20]))[0])
    changed.text += " وانتهى"  # the spans still select their texts: only the task's text differs
    gold.write_text(jsonl([*docs[3:8], changed]), encoding="utf-8")
    ontology = load_ontology()
    result = build_release(documents, version="1.0.0", out=tmp_path / "docs", name="test/arabic-news")
    reference = reference_release(documents, tmp_path / "docs-reference", ontology)
    built = {name: digest for name, digest in _files(tmp_path / "docs").items() if name.startswith("data/")}
    assert built == _files(tmp_path / "docs-reference")
    assert result.stats.to_dict() == reference.stats.to_dict()

    from corpus_tools.build.gold import read_gold

    export = write_export(tmp_path / "export.json", tasks[:30] + [task(99, news_article(99), [])])
    gold_docs = read_gold(gold)
    with pytest.raises(InvalidDataError) as refused:  # one gold text is not its task's
        build_release(export, version="1.0.0", out=tmp_path / "gold", name="test/arabic-news", gold=gold)
    reference = reference_release(export, tmp_path / "gold-reference", ontology, gold=gold_docs)
    assert _build_problems(refused.value.report.to_dict()) == reference.report.to_dict()["problems"]
    assert [p["code"] for p in reference.report.to_dict()["problems"]] == ["build-gold-text-mismatch",
                                                                         "build-gold-missing"]
    changed.id, changed.text = "unused-doc", docs[20].text
    gold.write_text(jsonl([*docs[3:8], changed]), encoding="utf-8")
    result = build_release(export, version="1.0.0", out=tmp_path / "gold", name="test/arabic-news", gold=gold)
    reference = reference_release(export, tmp_path / "gold-reference2", ontology, gold=read_gold(gold))
    built = {name: digest for name, digest in _files(tmp_path / "gold").items() if name.startswith("data/")}
    assert built == _files(tmp_path / "gold-reference2")
    assert result.stats.to_dict() == reference.stats.to_dict()
    assert result.stats.gold_sources["gold-file"] == 5
    assert _build_problems(result.report.to_dict()) == reference.report.to_dict()["problems"]
    assert "build-gold-unused" in {p["code"] for p in reference.report.to_dict()["problems"]}


@pytest.mark.parametrize("stream", [False, True])
def test_a_task_id_used_twice_is_refused(tmp_path: Path, small_segments: None, stream: bool) -> None:
    """Two tasks with one Label Studio id and two articles: refused by the segments (here and in workers) and by
    the stream reading, the problem naming both tasks (issue 23)."""
    tasks = simple_export(12)
    tasks[9]["id"] = tasks[2]["id"]
    if stream:
        tasks[5]["data"]["title"] = "رقم 12345678901234567890"  # a run of digits: the segments leave it to yajl
    export = write_export(tmp_path / "export.json", tasks)
    serial = _build(export, tmp_path / "serial", 0)
    parallel = _build(export, tmp_path / "parallel", 2)
    assert serial[0] == parallel[0] == "refused" and parallel[1] == serial[1]
    assert [(p["code"], p["file"], p["task_id"], p["json_path"], p["details"]) for p in serial[1]["problems"]] == [
        ("task-duplicate-id", str(export), 3, "$[9].id", {"first_index": 2, "first_article_id": "art-0002"})]
    assert serial[1]["problems"][0]["message"].startswith("Task id 3 is also the id of item 2 (data.article_id"
                                                          " 'art-0002'): ")
    assert not (tmp_path / "serial").exists() and not (tmp_path / "parallel").exists()


def test_the_heap_freed_while_building_is_handed_back_before_the_final_check(tmp_path, monkeypatch):
    """glibc keeps the memory freed by the build's rows and stores in its heap unless asked (malloc_trim): the final
    check would otherwise start from the main process's peak."""
    from types import SimpleNamespace

    from corpus_tools.build import driver

    calls: list[tuple] = []

    class CLibrary:
        def malloc_trim(self, pad: int) -> int:
            calls.append(("malloc_trim", pad))
            return 1

    monkeypatch.setattr(driver, "ctypes", SimpleNamespace(CDLL=lambda name: CLibrary()))
    monkeypatch.setattr(driver, "sys", SimpleNamespace(platform="linux"))
    check_release = driver.check_release

    def check(*args, **kwargs):
        calls.append(("check_release",))
        return check_release(*args, **kwargs)

    monkeypatch.setattr(driver, "check_release", check)
    export = write_export(tmp_path / "export.json", simple_export(6))
    assert build_release(export, version="1.0.0", out=tmp_path / "release", workers=2).report.valid
    assert calls == [("malloc_trim", 0), ("check_release",)]
