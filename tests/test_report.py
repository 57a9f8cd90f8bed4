"""report.Report: what it keeps and what it counts (max_errors, codes reported once per file and field, warnings past
warnings_per_code)."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corpus_tools.codes import ANNOTATION_CANCELLED, EXPORT_EMPTY, META_UNDECLARED, SPAN_TEXT_MISMATCH
from corpus_tools.report import WARNINGS_PER_CODE, Report, define_code, make_problem

CODES = [EXPORT_EMPTY, SPAN_TEXT_MISMATCH, META_UNDECLARED, ANNOTATION_CANCELLED]
WARNINGS = {META_UNDECLARED, ANNOTATION_CANCELLED}  # the first reported once per field, the second every time


problems = st.lists(st.tuples(st.sampled_from(CODES), st.sampled_from(["a.json", "b.json", None]),
                              st.sampled_from(["desk", "edition", "٥"])), max_size=40)


def _model(items, max_errors, warnings_per_code):
    """What a report keeps and what it counts past ``warnings_per_code``, written as a plain reading: errors kept up
    to max_errors; a once-per-field warning kept at its first (file, field) only; then at most warnings_per_code
    warnings of each code kept (0: every one), the others counted."""
    kept, seen, errors, listed, unlisted = [], set(), 0, Counter(), Counter()
    for code, file, value in items:
        if code in WARNINGS:
            if code == META_UNDECLARED:
                if (file, value) in seen:
                    continue
                seen.add((file, value))
            if warnings_per_code and listed[code] == warnings_per_code:
                unlisted[code] += 1
                continue
            listed[code] += 1
            kept.append((code, file, value))
        elif max_errors is None or errors < max_errors:
            errors += 1
            kept.append((code, file, value))
    return kept, errors, dict(sorted(unlisted.items()))


def _filled(items, **bounds) -> Report:
    report = Report(**bounds)
    for code, file, value in items:
        report.add(make_problem(code, "m", file=file, details={"field": value}))
    return report


def _kept(report: Report) -> list[tuple]:
    return [(p.code, p.file, p.details["field"]) for p in report.problems]


@given(items=problems, max_errors=st.none() | st.integers(0, 5), warnings_per_code=st.integers(0, 3))
def test_the_report_keeps_and_counts_like_a_plain_reading(items, max_errors, warnings_per_code):
    report = _filled(items, max_errors=max_errors, warnings_per_code=warnings_per_code)
    kept, errors, unlisted = _model(items, max_errors, warnings_per_code)
    assert _kept(report) == kept
    assert report.counts() == dict(Counter(code for code, _, _ in items).most_common())
    assert report.unlisted_warnings() == unlisted
    summary = report.to_dict()
    assert summary["unlisted_warnings"] == unlisted
    assert summary["errors"] == report.errors_found == sum(1 for code, _, _ in items if code not in WARNINGS)
    assert summary["warnings"] == report.warnings_found == sum(1 for code, _, _ in items if code in WARNINGS)
    assert report.error_count == errors
    assert report.valid == (summary["errors"] == 0)
    assert report.truncated == (errors < summary["errors"])
    if warnings_per_code:
        for code in WARNINGS:
            assert sum(1 for p in report.problems if p.code == code) <= warnings_per_code


@given(items=problems, cut=st.integers(0, 40), max_errors=st.none() | st.integers(0, 5),
       warnings_per_code=st.integers(0, 3))
def test_a_merged_report_keeps_and_counts_as_one_reading(items, cut, max_errors, warnings_per_code):
    """Reports of two parts of the input, each bounded, merged in order: the same problems kept and the same
    counts as one report of the whole input (how the build merges its writer's and its checks' reports)."""
    bounds = {"max_errors": max_errors, "warnings_per_code": warnings_per_code}
    whole = _filled(items, **bounds)
    merged = _filled(items[:cut], **bounds)
    merged.merge(_filled(items[cut:], **bounds))
    assert _kept(merged) == _kept(whole)
    assert merged.counts() == whole.counts()
    assert (merged.errors_found, merged.warnings_found, merged.valid, merged.truncated) == (
        whole.errors_found, whole.warnings_found, whole.valid, whole.truncated)


@given(items=problems, cut=st.integers(0, 40))
def test_problems_taken_as_they_come_and_merged_at_the_end_count_as_one_reading(items, cut):
    """A report whose kept problems are taken part way (convert judges each item's problems as they come) and
    added elsewhere, then merged for what it counted without keeping: the target keeps and counts as one reading,
    and the taken report holds nothing kept."""
    whole = _filled(items, warnings_per_code=2)
    local, target = _filled(items[:cut], warnings_per_code=0), Report(warnings_per_code=2)
    target.extend(local.take_problems())
    assert (local.problems, local.error_count) == ([], 0)
    for code, file, value in items[cut:]:
        local.add(make_problem(code, "m", file=file, details={"field": value}))
    target.extend(local.take_problems())
    target.merge(local)
    assert _kept(target) == _kept(whole)
    assert target.counts() == whole.counts()
    assert (target.errors_found, target.warnings_found) == (whole.errors_found, whole.warnings_found)


def test_the_problems_a_report_is_made_with_are_kept_and_counted_as_added():
    cancelled = [make_problem(ANNOTATION_CANCELLED, "m", task_id=i) for i in range(5)]
    report = Report(problems=cancelled, warnings_per_code=2)
    assert [p.task_id for p in report.problems] == [0, 1]
    assert report.warnings_found == 5
    assert report.to_dict()["unlisted_warnings"] == {ANNOTATION_CANCELLED: 3}


def test_warnings_per_code_is_not_negative():
    with pytest.raises(ValueError, match="warnings_per_code"):
        Report(warnings_per_code=-1)


def test_the_default_bound_is_the_documented_constant():
    report = _filled([(ANNOTATION_CANCELLED, "a.json", "desk")] * (WARNINGS_PER_CODE + 7))
    assert len(report.problems) == WARNINGS_PER_CODE == 1000
    assert report.unlisted_warnings() == {ANNOTATION_CANCELLED: 7}


def test_only_a_warning_is_reported_once_per_field():
    with pytest.raises(ValueError, match="only a warning"):
        define_code("test-once-error", "error", "An error.", stage="test", once_per="field")
