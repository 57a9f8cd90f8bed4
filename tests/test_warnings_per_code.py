"""A report keeps a bounded number of warnings of each code (``--warnings-per-code``) and counts every one: an
export where every task has a warning, validated and built, gives exact counts, lists the first warnings in input
order and says how many more were not listed, whatever the workers and the segments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from build_inputs import annotation, news_article, task, write_export
from typer.testing import CliRunner

from corpus_tools.build.driver import build_release
from corpus_tools.build.gold import GOLD_MISSING
from corpus_tools.cli.app import app
from corpus_tools.codes import ANNOTATION_CANCELLED, META_UNDECLARED
from corpus_tools.validate import driver, segmented
from corpus_tools.validate.driver import validate_export

TASKS = 3000
CAP = 5


def _tasks(n: int = TASKS) -> list[dict]:
    """``n`` tasks, each with its gold annotation and a cancelled one (an ``annotation-cancelled`` warning each),
    and a meta field the ontology does not declare (``meta-undeclared``: reported once per file and field)."""
    tasks = []
    for i in range(n):
        art = news_article(i)
        item = task(i + 1, art, [annotation(100_000 + i, art.result(f"t{i}-")),
                                 annotation(200_000 + i, [], cancelled=True)])
        item["data"]["meta"] = {"desk": "world"}
        tasks.append(item)
    return tasks


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_export(tmp_path_factory.mktemp("warnings") / "export.json", _tasks())


def _cancelled(index: int) -> tuple[str, int, str]:
    return ANNOTATION_CANCELLED, index + 1, f"$[{index}].annotations[1].was_cancelled"


def _listed(problems: list[dict]) -> list[tuple]:
    return [(p["code"], p.get("task_id"), p.get("json_path")) for p in problems]


def _expected_listed(cap: int) -> list[tuple]:
    """The first ``cap`` cancelled annotations, in input order, after the one meta-undeclared (a task's data
    comes before its annotations)."""
    cancelled = [_cancelled(i) for i in range(cap)]
    return [(META_UNDECLARED, 1, "$[0].data.meta.desk"), *cancelled]


def test_validate_keeps_the_first_warnings_of_each_code_and_counts_every_one(export: Path) -> None:
    report = validate_export(export, warnings_per_code=CAP)
    summary = report.to_dict()
    assert _listed(summary["problems"]) == _expected_listed(CAP)
    assert len(report.problems) == CAP + 1  # what the report holds: the bound, not the export
    assert summary["counts"] == {ANNOTATION_CANCELLED: TASKS, META_UNDECLARED: TASKS}
    assert summary["warnings"] == report.warnings_found == 2 * TASKS
    assert summary["unlisted_warnings"] == {ANNOTATION_CANCELLED: TASKS - CAP}  # the once-per-field repeats apart
    assert summary["valid"] is True and summary["truncated"] is False


def test_validate_keeps_every_warning_with_a_bound_of_0(export: Path) -> None:
    report = validate_export(export, warnings_per_code=0)
    assert [p for p in _listed(report.to_dict()["problems"]) if p[0] == ANNOTATION_CANCELLED] == [
        _cancelled(i) for i in range(TASKS)]
    assert report.unlisted_warnings() == {}


def test_validate_bounds_by_default(export: Path) -> None:
    report = validate_export(export)
    assert report.unlisted_warnings() == {ANNOTATION_CANCELLED: TASKS - 1000}
    assert len(report.problems) == 1000 + 1


def test_the_workers_and_the_segments_give_the_same_bounded_report(export: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The segments' problems are merged into the report as they come: the same report (problems listed, counts,
    problems not listed) in this process and with two workers, over many segments."""
    monkeypatch.setattr(segmented, "SEGMENT_BYTES", 1 << 15)
    monkeypatch.setattr(driver, "VALIDATE_SEGMENT_BYTES", 1 << 15)
    alone = validate_export(export, warnings_per_code=CAP, workers=0).to_dict()
    two = validate_export(export, warnings_per_code=CAP, workers=2).to_dict()
    assert two == alone
    assert _listed(alone["problems"]) == _expected_listed(CAP)
    assert alone["unlisted_warnings"] == {ANNOTATION_CANCELLED: TASKS - CAP}


def test_the_merger_holds_no_more_than_the_bound(export: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before, the validation merger held every segment's problems until the end."""
    monkeypatch.setattr(driver, "VALIDATE_SEGMENT_BYTES", 1 << 15)
    held: list[int] = []
    add = segmented.ValidationMerger.add

    def watched(self: segmented.ValidationMerger, result: object) -> None:
        add(self, result)  # type: ignore[arg-type]
        held.append(len(self.validation.problems))

    monkeypatch.setattr(segmented.ValidationMerger, "add", watched)
    validate_export(export, warnings_per_code=CAP)
    assert len(held) > 10
    assert max(held) == CAP + 1


@pytest.mark.parametrize("workers", [0, 2])
def test_build_keeps_the_first_warnings_of_each_code_and_counts_every_one(export: Path, tmp_path: Path,
                                                                         workers: int) -> None:
    result = build_release(export, version="1.0.0", out=tmp_path / "release", name="test/arabic-news",
                           workers=workers, warnings_per_code=CAP, near_duplicates=False)
    summary = result.report.to_dict()
    assert _listed(summary["problems"]) == _expected_listed(CAP)
    assert len(result.report.problems) == CAP + 1
    assert summary["counts"] == {ANNOTATION_CANCELLED: TASKS, META_UNDECLARED: TASKS}
    assert summary["unlisted_warnings"] == {ANNOTATION_CANCELLED: TASKS - CAP}
    assert result.stats.documents == TASKS  # the warnings not listed change nothing in the release


runner = CliRunner()


def test_cli_validate_says_how_many_warnings_were_not_listed(export: Path) -> None:
    result = runner.invoke(app, ["validate", str(export), "--warnings-per-code", str(CAP)])
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert f"... and {TASKS - CAP:,} more {ANNOTATION_CANCELLED} warnings not listed (--warnings-per-code)" in lines
    assert sum(1 for line in lines if line.startswith(f"warning: [{ANNOTATION_CANCELLED}]")) == CAP
    assert not any("not listed" in line and META_UNDECLARED in line for line in lines)
    assert f"valid: 0 errors, {2 * TASKS} warnings" in result.stderr


def test_cli_validate_json_says_how_many_warnings_were_not_listed(export: Path) -> None:
    result = runner.invoke(app, ["validate", str(export), "--json", "--warnings-per-code", "2"])
    assert result.exit_code == 0
    summary = json.loads(result.stdout)
    assert summary["unlisted_warnings"] == {ANNOTATION_CANCELLED: TASKS - 2}
    assert summary["counts"][ANNOTATION_CANCELLED] == TASKS
    assert _listed(summary["problems"]) == _expected_listed(2)


def test_cli_a_negative_bound_is_a_usage_error(export: Path) -> None:
    result = runner.invoke(app, ["validate", str(export), "--warnings-per-code", "-1"])
    assert result.exit_code == 2


def test_cli_build_passes_the_bound(tmp_path: Path) -> None:
    export = write_export(tmp_path / "export.json", _tasks(40))
    result = runner.invoke(app, ["build", str(export), "--version", "1.0.0", "--out", str(tmp_path / "release"),
                                 "--name", "test/arabic-news", "--workers", "0", "--json",
                                 "--warnings-per-code", "3"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["unlisted_warnings"] == {ANNOTATION_CANCELLED: 40 - 3}
    assert _listed(report["problems"]) == _expected_listed(3)


@pytest.mark.parametrize("command", [["validate"], ["build"], ["ingest"], ["convert"]])
def test_cli_help_shows_the_option(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200", "TERM": "dumb"})
    assert result.exit_code == 0
    assert "--warnings-per-code" in result.output


def test_cli_a_command_without_the_option_does_not_name_it(tmp_path: Path) -> None:
    """``agree`` validates the export first and shows its problems when it is invalid, with the default bound:
    the line about the warnings not listed says how many of each code were kept, not an option ``agree`` lacks."""
    from corpus_tools.report import WARNINGS_PER_CODE

    tasks = _tasks(WARNINGS_PER_CODE + 2)
    tasks[-1]["data"]["text"] = 5  # one schema error: the export is invalid
    export = write_export(tmp_path / "export.json", tasks)
    key = tmp_path / "pseudonym.key"
    key.write_text("ab" * 32)
    result = runner.invoke(app, ["agree", str(export), "--pseudonym-key", str(key)])
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert (f"... and 2 more {ANNOTATION_CANCELLED} warnings not listed ({WARNINGS_PER_CODE:,} of each code kept)"
            in lines), lines[-20:]
    assert not any("--warnings-per-code" in line for line in lines)
    assert runner.invoke(app, ["agree", str(export), "--warnings-per-code", "0"]).exit_code == 2  # no such option




def test_build_counts_the_builds_own_warnings_past_the_bound(tmp_path: Path) -> None:
    """The build's own problems (its writer's report, bounded too) are merged with their counts: here a task
    of only a cancelled annotation has no gold (``build-gold-missing``) besides its ``annotation-cancelled``."""
    tasks = _tasks(40)
    for item in tasks[10:]:
        del item["annotations"][0]  # only the cancelled annotation is left
    export = write_export(tmp_path / "export.json", tasks)
    result = build_release(export, version="1.0.0", out=tmp_path / "release", name="test/arabic-news", workers=0,
                           warnings_per_code=3, near_duplicates=False)
    assert result.report.counts()[GOLD_MISSING] == 30
    assert result.report.unlisted_warnings() == {ANNOTATION_CANCELLED: 40 - 3, GOLD_MISSING: 30 - 3}
    missing = [p.task_id for p in result.report.problems if p.code == GOLD_MISSING]
    assert missing == [11, 12, 13]
    assert result.stats.documents == 10


@pytest.mark.parametrize("source", ["export", "documents"])
def test_convert_counts_every_warning_and_bounds_those_it_lists(tmp_path: Path, source: str) -> None:
    """A conversion reads its input through the validate stage one item's problems at a time; before, the
    repeats of a once-per-field warning were left out of its counts."""
    from corpus_tools.interop.convert import convert

    export = write_export(tmp_path / "export.json", _tasks(40))
    if source == "documents":
        documents = tmp_path / "documents.jsonl"
        convert(export, "labelstudio", "documents", documents)
        path, reader = documents, "documents"
        expected = {META_UNDECLARED: 40}  # a document keeps its meta, not its cancelled annotations
    else:
        path, reader = export, "labelstudio"
        expected = {ANNOTATION_CANCELLED: 40, META_UNDECLARED: 40}
    report = convert(path, reader, "documents", tmp_path / "out.jsonl", warnings_per_code=3)
    assert report.valid
    assert report.counts() == expected
    assert report.warnings_found == sum(expected.values())
    assert report.unlisted_warnings() == ({ANNOTATION_CANCELLED: 40 - 3} if source == "export" else {})
