"""Units of the build: the tokenizer's class table, split rules, card helpers."""

from __future__ import annotations

import json

import pytest

from corpus_tools.errors import InputError
from corpus_tools.release.card import size_category
from corpus_tools.release.splits import SplitPlan, bucket, parse_ratios, read_splits


def test_rule_split_is_deterministic_and_near_the_ratios():
    plan = SplitPlan()
    counts = {"train": 0, "validation": 0, "test": 0}
    for i in range(20_000):
        counts[plan.rule_split(f"doc-{i}")] += 1
    assert abs(counts["train"] / 20_000 - 0.8) < 0.015
    assert abs(counts["test"] / 20_000 - 0.1) < 0.01
    assert bucket("doc-1", "corpus-tools") == bucket("doc-1", "corpus-tools") != bucket("doc-1", "other")


def test_zero_ratio_split_gets_nothing():
    plan = SplitPlan(ratios=(("train", 0.5), ("validation", 0.0), ("test", 0.5)))
    assert {plan.rule_split(f"d{i}") for i in range(500)} == {"train", "test"}


def test_earlier_assignments_win_and_round_trip(tmp_path):
    plan = SplitPlan(assignments={"a": "test"})
    assert plan.assign("a") == "test"
    plan.assign("b")
    path = tmp_path / "splits.json"
    path.write_text(plan.to_json(), encoding="utf-8")
    again = read_splits(path, tmp_path / "earlier.sqlite")
    assert dict(again.recorded()) == {"a": "test", "b": plan.rule_split("b")} and again.assignments == {}
    assert again.earlier_names == {"test", plan.rule_split("b")} and again.ratios == plan.ratios
    assert json.loads(path.read_text())["ratios"] == [["train", 0.8], ["validation", 0.1], ["test", 0.1]]


@pytest.mark.parametrize("content, fragment", [
    ("{", "cannot read"),
    ('{"format": 1}', "invalid splits file"),
    (json.dumps({"format": 1, "method": "sha256-bucket", "seed": "s", "ratios": [["train", 1.0]],
                 "assignments": {"a": "val-2024"}}), "invalid split names"),
])
def test_bad_splits_file(tmp_path, content, fragment):
    path = tmp_path / "splits.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=fragment):
        read_splits(path, tmp_path / "earlier.sqlite")
    assert not (tmp_path / "earlier.sqlite").exists()


def test_parse_ratios():
    assert parse_ratios("train=80,validation=10,test=10") == (("train", 0.8), ("validation", 0.1), ("test", 0.1))
    assert parse_ratios("train=0.9,test=0.1") == (("train", 0.9), ("test", 0.1))
    assert parse_ratios("train=100") == (("train", 1.0),)
    assert parse_ratios("train=85,validation=7.5,test=7.5") == (("train", 0.85), ("validation", 0.075),
                                                                ("test", 0.075))
    with pytest.raises(ValueError, match="percentages must sum to 100, got 90"):
        parse_ratios("train=80,validation=10")  # a forgotten test split is not spread over the others
    with pytest.raises(ValueError, match=r"percentages must sum to 100, got 100\.0000001"):
        parse_ratios("train=50,test=50.0000001")  # said in percentages, as given
    for bad in ("train", "train=x", "val-2024=1", "a=0.5,b=0.2", "train=50"):
        with pytest.raises(ValueError):
            parse_ratios(bad)


def test_size_categories():
    assert [size_category(n) for n in (0, 999, 1000, 99_999, 100_000)] == [
        "n<1K", "n<1K", "1K<n<10K", "10K<n<100K", "100K<n<1M"]


def test_table_tokenizer_classifies_every_code_point_as_the_regex_does():
    import numpy as np

    from corpus_tools.spans import base_tokens
    from corpus_tools.tokens import token_bounds

    # Each code point doubled and followed by a space: a word character gives one token of two, punctuation
    # two tokens of one, anything else none, so equal offsets mean equal classes for every code point.
    doubled = np.repeat(np.arange(0x110000, dtype="<u4"), 3)
    doubled[2::3] = ord(" ")
    text = doubled.tobytes().decode("utf-32-le", "surrogatepass")
    starts, ends, _ = token_bounds([text])
    expected = base_tokens(text)
    assert starts.tolist() == [t.start for t in expected] and ends.tolist() == [t.end for t in expected]


def test_default_name_skips_a_version_folder(tmp_path):
    from corpus_tools.build.driver import default_name

    assert default_name(tmp_path / "arabic-news" / "v1.2.0") == "arabic-news"
    assert default_name(tmp_path / "arabic-news") == "arabic-news"


def test_release_stats_merge_adds_every_count() -> None:
    from corpus_tools.release.stats import ReleaseStats
    from corpus_tools.teams.agreement import AgreementReport, AnnotatorAnnotation

    def part(split: str, label: str, annotator: str) -> ReleaseStats:
        stats = ReleaseStats(tasks=2, annotations=3, cancelled=1, duplicate_texts=1)
        counts = stats.split(split)
        counts.documents, counts.tokens = 1, 10
        counts.entities[label] += 2
        counts.relations["works_for"] += 1
        counts.unencodable[label] += 1
        stats.gold_sources["single"] += 1
        stats.left_out["ambiguous"] += 1
        stats.annotators[annotator] += 3
        stats.agreement = AgreementReport()
        stats.agreement.add_task(1, "text text", [AnnotatorAnnotation("x", ((0, 4, label),)),
                                                   AnnotatorAnnotation("y", ((0, 4, label), (5, 9, "LOC")))])
        return stats

    merged = part("train", "PER", "a")
    merged.merge(part("test", "PER", "b"))
    merged.merge(part("train", "ORG", "a"))
    stats = merged.to_dict()
    assert (stats["tasks"], stats["documents"], stats["annotations"], stats["cancelled_annotations"]) == (6, 3, 9, 3)
    assert stats["annotators"] == 2 and stats["duplicate_texts_within_split"] == 3
    assert stats["gold_sources"] == {"single": 3} and stats["left_out"] == {"ambiguous": 3}
    assert list(stats["splits"]) == ["train", "test"]
    train = stats["splits"]["train"]
    assert (train["documents"], train["tokens"], train["entities"], train["relations"]) == (2, 20, 4, 2)
    assert train["entities_per_label"] == {"ORG": 2, "PER": 2} and train["unencodable_spans"] == 2
    assert stats["agreement"]["compared_tasks"] == 3 and stats["agreement"]["pairs"] == 3
    exact = stats["agreement"]["spans"]["exact"]["per_label"]
    assert {label: (f["matched"], f["reference"], f["compared"]) for label, f in exact.items()} == {
        "PER": (2, 2, 2), "ORG": (1, 1, 1), "LOC": (0, 0, 3)}
