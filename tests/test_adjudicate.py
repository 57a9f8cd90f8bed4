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


@pytest.mark.parametrize("spelling", ["same", "symlink", "hardlink"])
def test_out_that_is_the_export_itself_is_refused_and_the_export_kept(tmp_path, spelling):
    """--out naming the export replaced the export with the gold documents; a link to it is refused too, as convert
    and validate --repair-utf16 refuse theirs."""
    export = team_export(tmp_path / "export.json")
    before = export.read_bytes()
    out = {"same": export, "symlink": tmp_path / "link.jsonl", "hardlink": tmp_path / "hard.jsonl"}[spelling]
    if spelling == "symlink":
        out.symlink_to(export)
    elif spelling == "hardlink":
        out.hardlink_to(export)
    result = run("adjudicate", export, "--out", out)
    assert result.returncode == 3 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: --out {out} is the export {export}; write the gold documents to another file")
    assert export.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({"export.json", out.name})


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
    # Three documents leave a split empty (a warning), and the texts differ only in their number: near-duplicates,
    # warned of where they land in different splits.
    built = [p for p in result.report.problems if p.code.startswith("build-") and p.code != "build-split-empty"]
    assert sorted((p.code, p.task_id) for p in built) == [
        ("build-gold-ambiguous", 3), ("build-gold-ambiguous", 4),
        ("build-near-duplicate-across-splits", 2), ("build-near-duplicate-across-splits", 5)]
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


# ---------------------------------------------------------------------------- in a real Label Studio


@pytest.fixture(scope="module")
def team(ls_server):
    """Three annotators and the adjudicator, each a login of their own (tests/labelstudio_team.py)."""
    from labelstudio_team import make_team

    annotators = make_team(ls_server, 3, prefix="adjudicate")
    (lead,) = make_team(ls_server, 1, prefix="lead")
    return dict(zip((A, B, C), annotators, strict=True)) | {"lead": lead}


def ground_truths(client, task_id: int) -> list[tuple[int, object]]:
    return [(a["id"], a["completed_by"]) for a in client.task_annotations(task_id) if a["ground_truth"]]


@pytest.mark.labelstudio
def test_a_team_in_label_studio_from_annotation_to_release(ls_server, ls_project, team, tmp_path):
    """Three annotators with planned disagreements: agree reports the planned figures, adjudicate sets the
    ground truth of the agreed tasks once and lists exactly the planned conflicts, an expert's ground truth is
    kept by a second run, and build releases every task with the agreement table in its card."""
    from corpus_tools.labelstudio.snapshot import export_project
    from corpus_tools.teams.pseudonyms import load_or_create_key, pseudonym

    def pseudonym_of(user: str) -> str:
        return pseudonym(user, key=load_or_create_key())

    admin = ls_server.client()
    project = ls_project()
    tasks = [task(k, []) for k in range(1, 5)]
    ids = admin.import_tasks(project.id, [{"data": t["data"]} for t in tasks])
    clitic = [span("ap", PER_AT, "PER"), span("ac", CITY_WORD_AT, "GPE")]
    other = [span("bp", PER_AT, "PER"), span("bc", CITY_AT, "GPE"), span("bo", ORG_AT, "GPE")]
    versions = {  # task index -> each annotator's result
        0: {A: full("a"), B: full("b"), C: full("c")},  # unanimous
        1: {A: full("a"), B: full("b"), C: full("c")[:2]},  # ORG and the relation 2 of 3
        2: {A: full("a")[:3], B: other},  # a label split: conflict
        3: {A: clitic, B: full("b")[:2]},  # a clitic boundary: conflict
    }
    annotation_of: dict[tuple[int, str], int] = {}
    for index, by_annotator in versions.items():
        for who, result in by_annotator.items():
            annotation_of[index, who] = team[who].client.create_annotation(ids[index], result)
    lead = team["lead"]
    env = ls_server.env(LABEL_STUDIO_API_KEY=lead.api_key)

    def cli(*args: str | Path) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "corpus_tools", *map(str, args)], capture_output=True,
                              text=True, env=env, timeout=300)

    def adjudicate(*args: str) -> subprocess.CompletedProcess:
        return cli("adjudicate", "--project", str(project.id), *args)

    def all_annotations() -> list[list[int]]:
        return [[a["id"] for a in admin.task_annotations(task_id)] for task_id in ids]

    # agreement, as planned: PER always agrees; GPE 7 of 17 span pairs (the clitic and the extra GPE); ORG 4 of 11
    export = tmp_path / "team.json"
    export_project(admin, project.id, export)
    agreed = cli("agree", export, "--json")
    assert agreed.returncode == 0, agreed.stderr
    figures = json.loads(agreed.stdout)
    assert (figures["compared_tasks"], figures["pairs"]) == (4, 3 + 3 + 1 + 1)
    per_label = figures["spans"]["exact"]["per_label"]
    assert {label: per_label[label]["f1"] for label in ("PER", "GPE", "ORG")} == pytest.approx(
        {"PER": 1.0, "GPE": 2 * 7 / 17, "ORG": 2 * 4 / 11})
    assert all(email not in agreed.stdout for email in (team[A].email, team[B].email, team[C].email))

    before = all_annotations()
    dry = adjudicate("--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    planned = json.loads(dry.stdout)
    assert (planned["dry_run"], planned["adjudicator"]) == (True, lead.email)
    assert planned["written"] == [{"task_id": ids[0], "article_id": "art-1", "annotation_id": None},
                                  {"task_id": ids[1], "article_id": "art-2", "annotation_id": None}]
    assert all_annotations() == before

    first = adjudicate()
    assert first.returncode == 0, first.stderr
    headers = [line for line in first.stdout.splitlines() if line.startswith("task ")]
    assert headers == [f"task {ids[2]} (art-3): 1 in dispute  {ls_server.url}/projects/{project.id}/data?task={ids[2]}",
                       f"task {ids[3]} (art-4): 1 in dispute  {ls_server.url}/projects/{project.id}/data?task={ids[3]}"]
    assert f"set the ground truth of 2 tasks as {lead.email}" in first.stderr
    truths = [ground_truths(admin, task_id) for task_id in ids]
    assert [[who for _, who in t] for t in truths] == [[lead.id], [lead.id], [], []]
    export_project(admin, project.id, tmp_path / "adjudicated.json")
    exported = json.loads((tmp_path / "adjudicated.json").read_text("utf-8"))
    gold_of_second = next(a for a in exported[1]["annotations"] if a["ground_truth"])
    assert sorted((i["value"]["start"], i["value"]["end"], i["value"]["labels"][0])
                  for i in gold_of_second["result"] if i["type"] == "labels") == [
        (*PER_AT, "PER"), (*CITY_AT, "GPE"), (*ORG_AT, "ORG")]
    assert [i["labels"] for i in gold_of_second["result"] if i["type"] == "relation"] == [["ORG-AFF.Employment"]]

    # an expert opens each conflict and marks one annotator's version as the truth
    for index, chosen in ((2, B), (3, B)):
        admin._sdk.annotations.update(id=annotation_of[index, chosen], ground_truth=True)
    after_first = all_annotations()
    second = adjudicate("--json")
    assert second.returncode == 0, second.stderr
    again = json.loads(second.stdout)
    assert (again["written"], again["counts"]) == ([], {"agreed": 0, "conflict": 0, "ground-truth": 4,
                                                        "unannotated": 0})
    assert all_annotations() == after_first
    assert [who for _, who in ground_truths(admin, ids[2])] == [team[B].id]

    # the adjudicator's ground truths are the gold, not a fourth annotator: the same pairs, and each annotator
    # against the gold
    final = tmp_path / "final.json"
    export_project(admin, project.id, final)
    after = cli("agree", final, "--json")
    assert after.returncode == 0, after.stderr
    figures_after = json.loads(after.stdout)
    assert (figures_after["pairs"], figures_after["spans"]) == (figures["pairs"], figures["spans"])
    against = figures_after["against_gold"]
    assert set(against) == {pseudonym_of(team[who].email) for who in (A, B, C)}
    assert against[pseudonym_of(team[C].email)]["tasks"] == 2  # tasks 1 and 2, gold by the adjudicator

    # the release holds every task, and its card the agreement table
    result = build_release(final, version="1.0.0", out=tmp_path / "release")
    assert result.stats.documents == 4
    card = (tmp_path / "release" / "README.md").read_text(encoding="utf-8")
    assert "Inter-annotator agreement" in card and "| `GPE` |" in card
    assert all(email not in card for email in (team[A].email, team[B].email, team[C].email, lead.email))


def test_out_under_a_file_names_that_file(tmp_path):
    export = team_export(tmp_path / "export.json")
    blocking = tmp_path / "a-file"
    blocking.write_text("x", encoding="utf-8")
    out = blocking / "gold.jsonl"
    result = run("adjudicate", export, "--out", out)
    assert result.returncode == 3 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == f"Error: cannot write {out}: {blocking} is a file, not a folder"
    assert blocking.read_text(encoding="utf-8") == "x"
