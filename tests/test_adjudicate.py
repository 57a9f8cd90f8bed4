"""Adjudication: majority and prefer policies on hand-made Arabic tasks, the offline command, build --gold."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from corpus_tools.build.driver import build_release
from corpus_tools.schemas import validator_for
from corpus_tools.teams.adjudicate import Policy, adjudicate_export, adjudicate_task

PRE = "قال "
PER = "محمد بن سلمان"
MID = " في "
CITY_WORD = "وبغداد"  # the conjunction و is a clitic: the city is بغداد
MID2 = " إن "
ORG = "وزارة الخارجية"
TEXT = PRE + PER + MID + CITY_WORD + MID2 + ORG + " ستعمل"

PER_AT = (len(PRE), len(PRE + PER))
CITY_AT = (len(PRE + PER + MID + "و"), len(PRE + PER + MID + CITY_WORD))
CITY_WORD_AT = (len(PRE + PER + MID), len(PRE + PER + MID + CITY_WORD))
ORG_AT = (len(PRE + PER + MID + CITY_WORD + MID2), len(PRE + PER + MID + CITY_WORD + MID2 + ORG))

A, B, C = "a@example.org", "b@example.org", "c@example.org"
USERS = {A: 11, B: 12, C: 13}


def span(sid: str, at: tuple[int, int], label: str) -> dict:
    start, end = at
    return {"id": sid, "from_name": "label", "to_name": "text", "type": "labels",
            "value": {"start": start, "end": end, "text": TEXT[start:end], "labels": [label]}}


def rel(head: str, tail: str, label: str) -> dict:
    return {"from_id": head, "to_id": tail, "type": "relation", "direction": "right", "labels": [label]}


def full(prefix: str) -> list[dict]:
    """Person, city, ministry and the person's employment by the ministry."""
    return [span(f"{prefix}p", PER_AT, "PER"), span(f"{prefix}c", CITY_AT, "GPE"), span(f"{prefix}o", ORG_AT, "ORG"),
            rel(f"{prefix}p", f"{prefix}o", "ORG-AFF.Employment")]


def ann(ann_id: int, who: str | int, result: list[dict], *, cancelled: bool = False, ground_truth: bool = False,
        updated: str = "2026-03-01T10:00:00Z") -> dict:
    completed_by = {"id": USERS[who], "email": who} if isinstance(who, str) else who
    return {"id": ann_id, "completed_by": completed_by, "result": result, "was_cancelled": cancelled,
            "ground_truth": ground_truth, "lead_time": 10.0, "created_at": updated, "updated_at": updated}


def task(task_id: int, annotations: list[dict], predictions: list[dict] | None = None) -> dict:
    text = f"{TEXT} رقم {task_id}"  # one text per task: a release refuses the same text in two splits
    return {"id": task_id, "data": {"text": text, "article_id": f"art-{task_id}", "title": "خبر", "source": "الوطن",
                                    "lang": "ar"},
            "annotations": annotations, "predictions": predictions or []}


def keys(decision) -> set[tuple]:
    return {(s.start, s.end, s.label) for s in decision.gold.entities}


def decided(decision) -> list[tuple]:
    return [(r["kind"], r.get("start"), r.get("end"), r["label"], r["decided"]) for r in decision.records]


MAJORITY = Policy.parse("majority")


# ---------------------------------------------------------------------------- the pure core


def test_unanimous_three_annotators_agree_with_gold_ids_of_their_own():
    decision = adjudicate_task(task(1, [ann(1, A, full("a")), ann(2, B, full("b")), ann(3, C, full("c"))]), MAJORITY)
    assert (decision.status, decision.annotators, decision.conflicts) == ("agreed", [A, B, C], [])
    assert keys(decision) == {(*PER_AT, "PER"), (*CITY_AT, "GPE"), (*ORG_AT, "ORG")}
    assert decided(decision) == [("span", *PER_AT, "PER", "unanimous 3/3"), ("span", *CITY_AT, "GPE", "unanimous 3/3"),
                                 ("span", *ORG_AT, "ORG", "unanimous 3/3"),
                                 ("relation", None, None, "ORG-AFF.Employment", "unanimous 3/3")]
    by_id = {s.id: s for s in decision.gold.entities}
    (relation,) = decision.gold.relations
    assert ((by_id[relation.head].start, by_id[relation.head].label), (by_id[relation.tail].start, relation.label)) \
        == ((PER_AT[0], "PER"), (ORG_AT[0], "ORG-AFF.Employment"))
    assert all(s.text == TEXT[s.start:s.end] for s in decision.gold.entities)
    assert decision.gold.meta["adjudication"]["decisions"] == decision.records


def test_two_of_three_fill_in_what_one_missed():
    missed = [span("cp", PER_AT, "PER"), span("cc", CITY_AT, "GPE")]
    decision = adjudicate_task(task(2, [ann(1, A, full("a")), ann(2, B, full("b")), ann(3, C, missed)]), MAJORITY)
    assert decision.status == "agreed"
    assert keys(decision) == {(*PER_AT, "PER"), (*CITY_AT, "GPE"), (*ORG_AT, "ORG")}
    assert decided(decision) == [("span", *PER_AT, "PER", "unanimous 3/3"), ("span", *CITY_AT, "GPE", "unanimous 3/3"),
                                 ("span", *ORG_AT, "ORG", "majority 2/3"),
                                 ("relation", None, None, "ORG-AFF.Employment", "majority 2/3")]


def test_a_label_split_one_to_one_is_a_conflict():
    other = [span("bp", PER_AT, "PER"), span("bc", CITY_AT, "GPE"), span("bo", ORG_AT, "GPE")]
    decision = adjudicate_task(task(3, [ann(1, A, full("a")[:3]), ann(2, B, other)]), MAJORITY)
    assert (decision.status, decision.gold) == ("conflict", None)
    (conflict,) = decision.conflicts
    assert (conflict.kind, conflict.start, conflict.end, conflict.text) == ("span", *ORG_AT, ORG)
    assert {who: [(i["label"], i["start"]) for i in items] for who, items in conflict.annotators.items()} == {
        A: [("ORG", ORG_AT[0])], B: [("GPE", ORG_AT[0])]}
    assert decided(decision) == [("span", *PER_AT, "PER", "unanimous 2/2"), ("span", *CITY_AT, "GPE", "unanimous 2/2")]


@pytest.mark.parametrize("others", [[B], [B, C]], ids=["one-to-one", "minority-of-three"])
def test_a_clitic_boundary_disagreement_is_a_conflict(others):
    with_clitic = [span("ap", PER_AT, "PER"), span("ac", CITY_WORD_AT, "GPE")]
    annotations = [ann(1, A, with_clitic)] + [
        ann(2 + k, who, [span(f"{k}p", PER_AT, "PER"), span(f"{k}c", CITY_AT, "GPE")]) for k, who in enumerate(others)]
    decision = adjudicate_task(task(4, annotations), MAJORITY)
    assert decision.status == "conflict"
    (conflict,) = decision.conflicts
    assert (conflict.kind, conflict.start, conflict.end, conflict.text) == ("span", *CITY_WORD_AT, CITY_WORD)
    assert {who: [(i["start"], i["end"], i["text"]) for i in items] for who, items in conflict.annotators.items()} \
        == {A: [(*CITY_WORD_AT, CITY_WORD)]} | {who: [(*CITY_AT, "بغداد")] for who in others}


def test_a_relation_with_one_other_argument_is_a_conflict():
    spans = [span("p", PER_AT, "PER"), span("c", CITY_AT, "GPE"), span("o", ORG_AT, "ORG")]
    decision = adjudicate_task(task(5, [ann(1, A, [*spans, rel("p", "o", "ORG-AFF.Employment")]),
                                        ann(2, B, [*spans, rel("p", "c", "ORG-AFF.Employment")])]), MAJORITY)
    assert decision.status == "conflict"
    (conflict,) = decision.conflicts
    assert (conflict.kind, conflict.start, conflict.end) == ("relation", PER_AT[0], ORG_AT[1])
    assert {who: [(i["label"], i["head"]["text"], i["tail"]["text"]) for i in items]
            for who, items in conflict.annotators.items()} == {
        A: [("ORG-AFF.Employment", PER, ORG)], B: [("ORG-AFF.Employment", PER, "بغداد")]}
    assert [r["decided"] for r in decision.records] == ["unanimous 2/2"] * 3  # the spans agree


def test_prefer_takes_that_annotators_version_and_falls_back_to_majority():
    other = [span("bp", PER_AT, "PER"), span("bo", ORG_AT, "GPE")]
    split = task(6, [ann(1, A, full("a")), ann(2, B, other)])
    decision = adjudicate_task(split, Policy.parse(f"prefer:{B}"))
    assert (decision.status, decision.policy) == ("agreed", f"prefer:{B}")
    assert keys(decision) == {(*PER_AT, "PER"), (*ORG_AT, "GPE")}
    assert [s.id for s in decision.gold.entities] == ["bp", "bo"]
    assert {r["decided"] for r in decision.records} == {f"prefer:{B}"}
    assert decision.gold.meta["annotation_id"] == 2
    fallback = adjudicate_task(split, Policy.parse("prefer:nobody@example.org"))
    assert (fallback.status, [(c.kind, c.start) for c in fallback.conflicts]) == (
        "conflict", [("span", CITY_AT[0]), ("span", ORG_AT[0]), ("relation", PER_AT[0])])
    by_id = adjudicate_task(task(7, [ann(1, 21, full("a")), ann(2, 22, other)]), Policy.parse("prefer:21"))
    assert (by_id.status, keys(by_id)) == ("agreed", {(*PER_AT, "PER"), (*CITY_AT, "GPE"), (*ORG_AT, "ORG")})


def test_the_same_person_twice_counts_once_with_their_latest_annotation():
    old = [span("x", PER_AT, "PER"), span("y", ORG_AT, "ORG")]
    new = [span("x", PER_AT, "PER"), span("y", ORG_AT, "GPE")]
    annotations = [ann(2, A, new, updated="2026-03-02T09:00:00Z"), ann(1, A, old, updated="2026-03-01T09:00:00Z"),
                   ann(3, B, [span("p", PER_AT, "PER"), span("o", ORG_AT, "GPE")])]
    decision = adjudicate_task(task(8, annotations), MAJORITY)
    assert (decision.status, decision.annotators) == ("agreed", [A, B])
    assert decided(decision) == [("span", *PER_AT, "PER", "unanimous 2/2"), ("span", *ORG_AT, "GPE", "unanimous 2/2")]


def test_cancelled_annotations_and_predictions_are_not_annotators():
    other = [span("z", CITY_WORD_AT, "LOC")]
    decision = adjudicate_task(task(9, [ann(1, A, full("a")), ann(2, B, other, cancelled=True)],
                                    predictions=[{"id": 5, "model_version": "m1", "score": 0.9, "result": other}]),
                               MAJORITY)
    assert (decision.status, decision.annotators) == ("agreed", [A])
    assert {r["decided"] for r in decision.records} == {"unanimous 1/1"}
    nobody = adjudicate_task(task(10, [ann(1, A, full("a"), cancelled=True)]), MAJORITY)
    assert (nobody.status, nobody.annotators, nobody.gold) == ("unannotated", [], None)


def test_a_task_with_a_ground_truth_is_never_touched():
    other = [span("bo", ORG_AT, "GPE")]
    decision = adjudicate_task(task(11, [ann(1, A, full("a")), ann(2, B, other, ground_truth=True)]), MAJORITY)
    assert (decision.status, decision.gold, decision.conflicts, decision.records) == ("ground-truth", None, [], [])
    cancelled_truth = adjudicate_task(task(12, [ann(1, A, full("a")), ann(2, B, other, ground_truth=True,
                                                                           cancelled=True)]), MAJORITY)
    assert cancelled_truth.status == "agreed"


@pytest.mark.parametrize("text", ["", "prefer:", "prefer: ", "minority", "Majority"])
def test_policy_parse_refuses_what_is_no_policy(text):
    with pytest.raises(ValueError, match="a policy is"):
        Policy.parse(text)


# ---------------------------------------------------------------------------- the offline command


def team_export(path: Path) -> Path:
    """Tasks 1-2 agreed, 3-4 in conflict, 5 with a ground truth already."""
    other = [span("bp", PER_AT, "PER"), span("bc", CITY_AT, "GPE"), span("bo", ORG_AT, "GPE")]
    clitic = [span("ap", PER_AT, "PER"), span("ac", CITY_WORD_AT, "GPE")]
    tasks = [
        task(1, [ann(1, A, full("a")), ann(2, B, full("b")), ann(3, C, full("c"))]),
        task(2, [ann(4, A, full("a")), ann(5, B, full("b")), ann(6, C, full("c")[:2])]),
        task(3, [ann(7, A, full("a")[:3]), ann(8, B, other)]),
        task(4, [ann(9, A, clitic), ann(10, B, full("b")[:2])]),
        task(5, [ann(11, A, full("a")), ann(12, B, other, ground_truth=True)]),
    ]
    path.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    return path


def run(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "corpus_tools", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def test_offline_command_writes_the_agreed_gold_and_lists_the_conflicts(tmp_path):
    export, gold = team_export(tmp_path / "export.json"), tmp_path / "out" / "gold.jsonl"
    result = run("adjudicate", export, "--out", gold)
    assert result.returncode == 0, result.stderr
    docs = [json.loads(line) for line in gold.read_text(encoding="utf-8").splitlines()]
    assert [d["id"] for d in docs] == ["art-1", "art-2"]
    schema = validator_for("document.schema.json")
    assert [list(schema.iter_errors(d)) for d in docs] == [[], []]
    assert [r["decided"] for r in docs[1]["meta"]["adjudication"]["decisions"]] == [
        "unanimous 3/3", "unanimous 3/3", "majority 2/3", "majority 2/3"]
    headers = [line for line in result.stdout.splitlines() if line.startswith("task ")]
    assert headers == ["task 3 (art-3): 1 in dispute", "task 4 (art-4): 1 in dispute"]
    assert "2 agreed, 2 in conflict, 1 with a ground truth" in result.stderr


def test_offline_json_is_the_librarys_to_dict(tmp_path):
    export = team_export(tmp_path / "export.json")
    result = run("adjudicate", export, "--out", tmp_path / "gold.jsonl", "--json", "--policy", f"prefer:{B}")
    assert result.returncode == 0, result.stderr
    expected = adjudicate_export(export, Policy.parse(f"prefer:{B}")).to_dict()
    assert json.loads(result.stdout) == expected
    assert expected["counts"] == {"agreed": 4, "conflict": 0, "ground-truth": 1, "unannotated": 0}


def test_build_with_the_gold_file_releases_the_agreed_tasks(tmp_path):
    export, gold = team_export(tmp_path / "export.json"), tmp_path / "gold.jsonl"
    assert run("adjudicate", export, "--out", gold).returncode == 0
    result = build_release(export, version="1.0.0", out=tmp_path / "release", name="test-org/team", gold=gold)
    assert result.stats.gold_sources == {"gold-file": 2, "ground-truth": 1}
    assert result.stats.left_out == {"ambiguous": 2}
    assert sorted((p.code, p.task_id) for p in result.report.problems if p.code.startswith("build-")) == [
        ("build-gold-ambiguous", 3), ("build-gold-ambiguous", 4)]
    import pyarrow.parquet as pq

    rows = {row["id"]: row for f in sorted((tmp_path / "release" / "data" / "documents").glob("*.parquet"))
            for row in pq.read_table(f).to_pylist()}
    assert sorted(rows) == ["art-1", "art-2", "art-5"]
    all_three = [(*PER_AT, "محمد بن سلمان"), (*CITY_AT, "بغداد"), (*ORG_AT, ORG)]
    assert [(e["start"], e["end"], e["text"]) for e in rows["art-2"]["entities"]] == all_three  # ORG: 2 of 3
    assert len(rows["art-2"]["relations"]) == 1
    assert [(e["start"], e["end"]) for e in rows["art-5"]["entities"]] == [PER_AT, CITY_AT, ORG_AT]  # B's truth


def test_a_failing_run_never_replaces_the_out_file(tmp_path):
    gold = tmp_path / "gold.jsonl"
    gold.write_text("previous\n", encoding="utf-8")
    bad = json.loads(team_export(tmp_path / "export.json").read_text(encoding="utf-8"))
    bad[0]["annotations"][0]["result"][0]["value"]["labels"] = ["PERSON"]  # not a label of the ontology
    invalid = tmp_path / "invalid.json"
    invalid.write_text(json.dumps(bad, ensure_ascii=False), encoding="utf-8")
    refused = run("adjudicate", invalid, "--out", gold)
    assert refused.returncode == 1, refused.stderr
    not_export = tmp_path / "docs.jsonl"
    not_export.write_text('{"id": "x", "text": "", "entities": [], "relations": []}\n', encoding="utf-8")
    unreadable = run("adjudicate", not_export, "--out", gold)
    assert unreadable.returncode == 3
    assert unreadable.stderr.strip().splitlines() == [
        f"Error: {not_export} is not a Label Studio JSON export (a JSON array of tasks); adjudication reads every"
        " annotator's annotations from one"]
    assert gold.read_text(encoding="utf-8") == "previous\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".gold")] == []


@pytest.mark.parametrize("args", [
    ["--out", "g.jsonl"],  # neither an export nor --project
    ["export.json"],  # no --out
    ["export.json", "--out", "g.jsonl", "--project", "x"],
    ["export.json", "--out", "g.jsonl", "--dry-run"],
    ["export.json", "--out", "g.jsonl", "--policy", "prefer:"],
])
def test_usage_errors_exit_2(args, tmp_path):
    team_export(tmp_path / "export.json")
    result = subprocess.run([sys.executable, "-m", "corpus_tools", "adjudicate", *args], capture_output=True,
                            text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 2, result.stderr
    assert not (tmp_path / "g.jsonl").exists()
