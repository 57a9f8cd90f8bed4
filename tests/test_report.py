"""report.Report: what it keeps and what it counts (max_errors, codes reported once per file and field)."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corpus_tools.codes import EXPORT_EMPTY, META_UNDECLARED, SPAN_TEXT_MISMATCH
from corpus_tools.report import Report, define_code, make_problem

CODES = [EXPORT_EMPTY, SPAN_TEXT_MISMATCH, META_UNDECLARED]  # two errors and a warning reported once per field


problems = st.lists(st.tuples(st.sampled_from(CODES), st.sampled_from(["a.json", "b.json", None]),
                              st.sampled_from(["desk", "edition", "٥"])), max_size=40)


@given(items=problems, max_errors=st.none() | st.integers(0, 5))
def test_the_report_keeps_and_counts_like_a_plain_reading(items, max_errors):
    report = Report(max_errors=max_errors)
    for code, file, value in items:
        report.add(make_problem(code, "m", file=file, details={"field": value}))
    # the model: errors kept up to max_errors, a once-per-field warning kept at its first (file, field)
    kept, seen, errors = [], set(), 0
    for code, file, value in items:
        if code == META_UNDECLARED:
            if (file, value) not in seen:
                seen.add((file, value))
                kept.append((code, file, value))
        elif max_errors is None or errors < max_errors:
            errors += 1
            kept.append((code, file, value))
    assert [(p.code, p.file, p.details["field"]) for p in report.problems] == kept
    assert report.counts() == dict(Counter(code for code, _, _ in items).most_common())
    summary = report.to_dict()
    assert summary["errors"] == report.errors_found == sum(1 for code, _, _ in items if code != META_UNDECLARED)
    assert summary["warnings"] == report.warnings_found == sum(1 for code, _, _ in items if code == META_UNDECLARED)
    assert report.error_count == errors
    assert report.valid == (summary["errors"] == 0)
    assert report.truncated == (errors < summary["errors"])


def test_only_a_warning_is_reported_once_per_field():
    with pytest.raises(ValueError, match="only a warning"):
        define_code("test-once-error", "error", "An error.", stage="test", once_per="field")
