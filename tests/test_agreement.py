"""Agreement between annotators (corpus_tools.teams.agreement): hand-computed figures on small Arabic tasks,
kappa and alpha against scikit-learn and the krippendorff package, merges, the CLI and the build's card."""

from __future__ import annotations

import json
import pickle
import random
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import krippendorff
import numpy as np
import pytest
from agreement_reference import reference_report
from build_inputs import annotation, news_article, task, write_export
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score
from typer.testing import CliRunner

from corpus_tools.cli.app import app
from corpus_tools.spans import Span, spans_to_bio, tokenize
from corpus_tools.teams.agreement import AgreementReport, AnnotatorAnnotation, _tag_ids, agree_export, task_annotations
from corpus_tools.teams.pseudonyms import load_or_create_key, pseudonym


def annotator_name(value):
    """Annotators named as the build and the CLI name them: pseudonyms keyed with the tests' key file."""
    return pseudonym(value, key=load_or_create_key())

runner = CliRunner()

# One sentence, two annotators: a span both mark (محمد علي, PER), a clitic-boundary disagreement (بغداد vs
# وبغداد, GPE), a partial overlap (شركة النفط vs شركة, ORG), a label confusion (سالم: PER vs ORG), a span both
# mark (دبي, GPE); relations: one both give, one whose tail (the clitic span) differs.
TEXT = "قال محمد علي في وبغداد إن شركة النفط عينت سالم في دبي"
PERSON = (len("قال "), len("قال محمد علي"))
BAGHDAD = (len("قال محمد علي في و"), len("قال محمد علي في وبغداد"))
WA_BAGHDAD = (len("قال محمد علي في "), len("قال محمد علي في وبغداد"))
COMPANY = (len("قال محمد علي في وبغداد إن "), len("قال محمد علي في وبغداد إن شركة النفط"))
COMPANY_WORD = (len("قال محمد علي في وبغداد إن "), len("قال محمد علي في وبغداد إن شركة"))
SALEM = (len("قال محمد علي في وبغداد إن شركة النفط عينت "), len("قال محمد علي في وبغداد إن شركة النفط عينت سالم"))
DUBAI = (len(TEXT) - len("دبي"), len(TEXT))


def region(region_id: str, text: str, offsets: tuple[int, int], label: str) -> dict:
    start, end = offsets
    return {"id": region_id, "from_name": "label", "to_name": "text", "type": "labels",
            "value": {"start": start, "end": end, "text": text[start:end], "labels": [label]}}


def relation(head: str, tail: str, label: str) -> dict:
    return {"from_id": head, "to_id": tail, "type": "relation", "direction": "right", "labels": [label]}


def ls_task(task_id: int, text: str, annotations: list[dict], predictions: list[dict] = ()) -> dict:
    return {"id": task_id, "data": {"text": text, "article_id": f"art-{task_id}"}, "annotations": annotations,
            "predictions": list(predictions)}


def ann(ann_id: int, annotator: object, result: list[dict], *, updated_at: str | None = "2026-01-01T00:00:00Z",
        created_at: str | None = "2026-01-01T00:00:00Z", cancelled: bool = False) -> dict:
    return {"id": ann_id, "completed_by": annotator, "result": result, "was_cancelled": cancelled,
            "ground_truth": False, "updated_at": updated_at, "created_at": created_at}


def first_result() -> list[dict]:
    return [region("p", TEXT, PERSON, "PER"), region("b", TEXT, BAGHDAD, "GPE"), region("c", TEXT, COMPANY, "ORG"),
            region("s", TEXT, SALEM, "PER"), region("d", TEXT, DUBAI, "GPE"),
            relation("p", "d", "PHYS.Located"), relation("p", "b", "PHYS.Located")]


def second_result() -> list[dict]:
    return [region("p", TEXT, PERSON, "PER"), region("b", TEXT, WA_BAGHDAD, "GPE"),
            region("c", TEXT, COMPANY_WORD, "ORG"), region("s", TEXT, SALEM, "ORG"), region("d", TEXT, DUBAI, "GPE"),
            relation("p", "d", "PHYS.Located"), relation("p", "b", "PHYS.Located")]


def sentence_task(task_id: int = 7) -> dict:
    return ls_task(task_id, TEXT, [ann(1, 11, first_result()), ann(2, 12, second_result())])


def report_of(tasks: list[dict], name_of=annotator_name, **options: object) -> AgreementReport:
    report = AgreementReport(**options)
    for t in tasks:
        report.add_task(t["id"], t["data"]["text"], task_annotations(t, name_of))
    return report


def test_exact_and_overlap_span_figures_by_hand() -> None:
    # annotators named by their ids, so that 11 sorts first and is the reference of the pair
    data = report_of([sentence_task()], name_of=str).to_dict()
    exact, overlap = data["spans"]["exact"], data["spans"]["overlap"]
    # first annotator (11) is the reference, second (12) compared: PER 2 vs 1 (سالم is ORG for 12), GPE 2 vs 2,
    # ORG 1 vs 2; exact matches: محمد علي, دبي; overlap matches add بغداد~وبغداد and شركة النفط~شركة
    assert exact["per_label"] == {
        "GPE": {"precision": 0.5, "recall": 0.5, "f1": 0.5, "matched": 1, "reference": 2, "compared": 2},
        "ORG": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "matched": 0, "reference": 1, "compared": 2},
        "PER": {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "matched": 1, "reference": 2,
                "compared": 1},
    }
    assert exact["micro"] == {"precision": 0.4, "recall": 0.4, "f1": 0.4}
    assert exact["macro"]["f1"] == pytest.approx((2 / 3 + 0.5 + 0) / 3)
    assert overlap["per_label"]["GPE"]["f1"] == 1.0
    assert (overlap["per_label"]["ORG"]["precision"], overlap["per_label"]["ORG"]["recall"]) == (0.5, 1.0)
    assert overlap["per_label"]["ORG"]["f1"] == pytest.approx(2 / 3)
    assert overlap["micro"]["f1"] == pytest.approx(0.8)
    assert data["label_confusion"] == [{"first": "GPE", "second": "GPE", "spans": 1},
                                       {"first": "PER", "second": "ORG", "spans": 1},
                                       {"first": "PER", "second": "PER", "spans": 1}]
    assert data["lowest_tasks"] == [{"task_id": 7, "span_f1_exact": 0.4}]
    assert (data["tasks"], data["compared_tasks"], data["pairs"]) == (1, 1, 1)


def test_relation_with_one_mismatched_argument_does_not_agree() -> None:
    relations = report_of([sentence_task()]).to_dict()["relations"]
    # محمد علي → دبي agrees; محمد علي → بغداد vs → وبغداد (tail differs) does not
    assert relations["per_label"] == {"PHYS.Located": {"precision": 0.5, "recall": 0.5, "f1": 0.5, "matched": 1,
                                                       "reference": 2, "compared": 2}}
    assert relations["micro"]["f1"] == 0.5


def test_token_kappa_and_alpha_by_hand() -> None:
    tokens = report_of([sentence_task()]).to_dict()["tokens"]
    # 12 tokens; first:  O B-PER I-PER O B-GPE O B-ORG I-ORG O B-PER O B-GPE
    #            second: O B-PER I-PER O B-GPE O B-ORG O     O B-ORG O B-GPE  (وبغداد is one token: same tag)
    # observed 10/12; chance (5*6 + 2*1 + 1*1 + 2*2 + 1*2) / 144 = 39/144; kappa = 81/105
    assert tokens["tokens"] == len(tokenize(TEXT)) == 12
    assert tokens["kappa"] == pytest.approx(81 / 105)
    # coincidences: n = 24, n_c = O 11, B-PER 3, I-PER 2, B-GPE 4, B-ORG 3, I-ORG 1; 4 off-diagonal;
    # alpha = 1 - 23 * 4 / (24^2 - (121 + 9 + 4 + 16 + 9 + 1)) = 1 - 92/416
    assert tokens["alpha"] == pytest.approx(1 - Fraction(92, 416))


def test_clitic_boundary_misses_exactly_but_agrees_on_tokens() -> None:
    text = "وصل الوفد إلى وبغداد"
    t = ls_task(3, text, [ann(1, 1, [region("x", text, (len("وصل الوفد إلى و"), len(text)), "GPE")]),
                          ann(2, 2, [region("x", text, (len("وصل الوفد إلى "), len(text)), "GPE")])])
    data = report_of([t]).to_dict()
    assert data["spans"]["exact"]["micro"]["f1"] == 0.0
    assert data["spans"]["overlap"]["micro"]["f1"] == 1.0
    assert (data["tokens"]["kappa"], data["tokens"]["alpha"]) == (1.0, 1.0)
    assert data["label_confusion"] == []


def test_same_person_counts_once_cancelled_and_predictions_are_not_annotators() -> None:
    person = region("p", TEXT, PERSON, "PER")
    dubai = region("d", TEXT, DUBAI, "GPE")
    t = ls_task(1, TEXT, [
        ann(1, {"id": 5, "email": "Sara@example.org"}, [dubai], updated_at="2026-03-01T00:00:00Z"),
        ann(2, {"id": 5, "email": "Sara@example.org"}, [person], updated_at="2026-01-01T00:00:00Z"),  # older
        ann(3, 6, [dubai], updated_at=None, created_at="2026-01-01T00:00:00Z"),
        ann(4, 6, [person], updated_at=None, created_at="2026-02-01T00:00:00Z"),  # newer by created_at
        ann(5, 7, [person], updated_at=None, created_at=None),
        ann(9, 7, [dubai], updated_at=None, created_at=None),  # the greater id
        ann(6, 8, [person], cancelled=True),
    ], predictions=[{"id": 1, "model_version": "m", "result": [person]}])
    annotations = task_annotations(t, annotator_name)
    sara = annotator_name("Sara@example.org")
    assert [(a.annotator, a.spans) for a in annotations] == sorted([
        (sara, ((*DUBAI, "GPE"),)), (annotator_name(6), ((*PERSON, "PER"),)),
        (annotator_name(7), ((*DUBAI, "GPE"),))])
    lone = ls_task(2, TEXT, [ann(10, 6, [person]), ann(11, 6, [dubai]), ann(12, 7, [person], cancelled=True)])
    data = report_of([t, lone]).to_dict()
    assert (data["tasks"], data["compared_tasks"], data["tasks_with_fewer_than_two_annotators"]) == (2, 1, 1)
    assert data["pairs"] == 3 and data["annotators"] == {sara: 1, annotator_name(6): 1, annotator_name(7): 1}
    assert data["spans"]["exact"]["micro"]["f1"] == pytest.approx(2 * 1 / 6)  # only sara and 7 agree


def test_the_latest_annotation_is_chosen_by_the_moment_not_the_string() -> None:
    from corpus_tools.teams.agreement import latest_annotations

    # As strings "...T10:00:00+02:00" > "...T09:30:00Z", but it names 08:00 UTC: the Z one is later.
    earlier = ann(1, 5, [], updated_at="2026-03-01T10:00:00+02:00")
    later = ann(2, 5, [], updated_at="2026-03-01T09:30:00Z")
    naive = ann(3, 6, [], updated_at="2026-03-01T09:00:00.123456")  # no offset: UTC
    aware = ann(4, 6, [], updated_at="2026-03-01T09:00:00.5+00:00")
    chosen = latest_annotations([later, earlier, aware, naive])
    assert {key: item["id"] for key, item in chosen.items()} == {"5": 2, "6": 4}
    unparsable = ann(5, 7, [], updated_at="yesterday")
    dated = ann(6, 7, [], updated_at="2020-01-01T00:00:00Z")
    assert latest_annotations([dated, unparsable])["7"]["id"] == 6


def _random_tasks(seed: int, count: int) -> list[dict]:
    rng = random.Random(seed)
    words = ["قال", "محمد", "في", "بغداد", "وزير", "الخارجية", "أمس", "،", "شركة", "النفط", "وبيروت"]
    tasks = []
    for task_id in range(count):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(3, 14)))
        tokens = tokenize(text)
        annotations = []
        for ann_id, annotator in enumerate(rng.sample([1, 2, 3, 4], rng.choice([1, 2, 2, 3, 4]))):
            result = []
            i = 0
            while i < len(tokens):
                if rng.random() < 0.35:
                    j = min(len(tokens) - 1, i + rng.choice([0, 0, 1, 2]))
                    label = rng.choice(["PER", "GPE", "ORG"])
                    result.append(region(f"r{i}", text, (tokens[i].start, tokens[j].end), label))
                    i = j + 1 + rng.choice([0, 1])
                else:
                    i += 1
            annotations.append(ann(100 * task_id + ann_id, annotator, result))
        tasks.append(ls_task(task_id + 1, text, annotations))
    return tasks


def _tags(text: str, spans: tuple) -> list[str]:
    return spans_to_bio(text, [Span(s, e, label) for s, e, label in spans]).tags


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kappa_is_sklearn_and_alpha_is_krippendorff_on_random_annotations(seed: int) -> None:
    tasks = _random_tasks(seed, 40)
    data = report_of(tasks).to_dict()
    per_pair: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
    coders = [annotator_name(k) for k in (1, 2, 3, 4)]
    columns: list[list[float]] = []
    values: dict[str, int] = {}
    for t in tasks:
        annotations = task_annotations(t, annotator_name)
        if len(annotations) < 2:
            continue
        tags = {a.annotator: _tags(t["data"]["text"], a.spans) for a in annotations}
        for i, a in enumerate(annotations):
            for b in annotations[i + 1:]:
                first, second = per_pair.setdefault((a.annotator, b.annotator), ([], []))
                first += tags[a.annotator]
                second += tags[b.annotator]
        for u in range(len(tokenize(t["data"]["text"]))):
            columns.append([values.setdefault(tags[c][u], len(values)) if c in tags else np.nan for c in coders])
    pairs = {tuple(p["annotators"]): p for p in data["annotator_pairs"]}
    assert set(pairs) == set(per_pair) and len(pairs) >= 3
    for pair, (first, second) in per_pair.items():
        assert pairs[pair]["tokens"] == len(first)
        assert pairs[pair]["kappa"] == pytest.approx(cohen_kappa_score(first, second), abs=1e-12)
    pooled_first = [tag for first, _ in per_pair.values() for tag in first]
    pooled_second = [tag for _, second in per_pair.values() for tag in second]
    assert data["tokens"]["kappa"] == pytest.approx(cohen_kappa_score(pooled_first, pooled_second), abs=1e-12)
    per_label = data["tokens"]["per_label"]["PER"]["kappa"]
    assert per_label == pytest.approx(cohen_kappa_score([t.endswith("-PER") for t in pooled_first],
                                                        [t.endswith("-PER") for t in pooled_second]), abs=1e-12)
    reliability = np.array(columns, dtype=float).T
    assert data["tokens"]["tokens"] == reliability.shape[1]
    expected = krippendorff.alpha(reliability_data=reliability, level_of_measurement="nominal")
    assert data["tokens"]["alpha"] == pytest.approx(expected, abs=1e-9)
    gpe = np.where(np.isnan(reliability), np.nan,
                   np.isin(reliability, [v for tag, v in values.items() if tag.endswith("-GPE")]).astype(float))
    assert data["tokens"]["per_label"]["GPE"]["alpha"] == pytest.approx(
        krippendorff.alpha(reliability_data=gpe, level_of_measurement="nominal"), abs=1e-9)


def test_merge_of_two_halves_equals_the_whole() -> None:
    tasks = _random_tasks(7, 60)
    whole = report_of(tasks, lowest_count=5)
    first, second = report_of(tasks[:23], lowest_count=5), report_of(tasks[23:], lowest_count=5)
    first.merge(second)
    assert first.to_dict() == whole.to_dict()
    assert first.to_markdown() == whole.to_markdown()
    assert len(whole.to_dict()["lowest_tasks"]) == 5


def test_annotators_restricts_the_comparison() -> None:
    t = ls_task(1, TEXT, [ann(1, 11, first_result()), ann(2, 12, second_result()), ann(3, 13, first_result())])
    everyone = AgreementReport()
    everyone.add_task(1, TEXT, task_annotations(t, annotator_name))
    assert everyone.pairs == 3
    some = AgreementReport()
    some.add_task(1, TEXT, task_annotations(t, annotator_name, annotators={annotator_name(11), annotator_name(13)}))
    assert some.pairs == 1 and some.exact.f1() == 1.0


def test_cli_json_is_the_library_report(tmp_path: Path) -> None:
    tasks = [sentence_task(1), ls_task(2, TEXT, [ann(3, {"id": 4, "email": "x@example.org"}, first_result()),
                                                 ann(4, 11, first_result()), ann(5, 12, second_result())])]
    export = write_export(tmp_path / "export.json", tasks)
    result = runner.invoke(app, ["agree", str(export), "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    agreement, report = agree_export(export, name_of=annotator_name)
    assert report.valid and json.loads(result.stdout) == agreement.to_dict()
    assert "x@example.org" not in result.stdout and annotator_name("x@example.org") in result.stdout
    chosen = f"{annotator_name(11)},{annotator_name('x@example.org')}"
    only = runner.invoke(app, ["agree", str(export), "--json", "--annotators", chosen])
    assert only.exit_code == 0
    data = json.loads(only.stdout)
    assert data["pairs"] == 1 and data["spans"]["exact"]["micro"]["f1"] == 1.0
    markdown = runner.invoke(app, ["agree", str(export), "--quiet"])
    assert markdown.exit_code == 0 and markdown.stdout.startswith("# Inter-annotator agreement\n")
    # PER, exact: pairs (11, 12) twice: 2 vs 1 spans, 1 match; (11, x): 2 vs 2, 2; (12, x): 1 vs 2, 1;
    # F1 = 2 * 5 / (7 + 6)
    assert f"| `PER` | {100 * 10 / 13:.1f} | {100 * 10 / 13:.1f} |" in markdown.stdout


def test_cli_maps_invalid_and_unreadable_exports(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('[{"id": 1,', encoding="utf-8")
    result = runner.invoke(app, ["agree", str(bad), "--json"])
    assert result.exit_code == 1
    assert [p["code"] for p in json.loads(result.stdout)["problems"]] == ["export-truncated"]
    missing = subprocess.run([sys.executable, "-m", "corpus_tools", "agree", str(tmp_path / "missing.json")],
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 3 and missing.stderr.startswith("Error: no such file")


def _build_tasks() -> list[dict]:
    tasks = []
    for i in range(6):
        art = news_article(i)
        first = art.result(f"t{i}-")
        spans = [item for item in first if item["type"] == "labels" and item["value"]["labels"] != ["ORG"]]
        located = [item for item in first if item["type"] == "relation" and item["labels"] == ["PHYS.Located"]]
        tasks.append(task(i + 1, art, [annotation(100 + i, first, annotator=1, ground_truth=True),
                                       annotation(200 + i, spans + located, annotator=2)]))
    return tasks


def test_build_card_shows_agreement_and_min_agreement_warns(tmp_path: Path) -> None:
    from corpus_tools.build.driver import build_release

    tasks = _build_tasks()
    export = write_export(tmp_path / "export.json", tasks)
    result = build_release(export, version="1.0.0", out=tmp_path / "out", name="test/agree", workers=0,
                           min_agreement=0.5)
    readme = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    # the second annotator gives every span but the ORG ones, and the Located relations only
    assert ("Inter-annotator agreement on 6 tasks with two annotators or more (6 annotator pairs, 2 annotators,"
            in readme)
    assert "| `PER` | 100.0 | 100.0 | 1.000 | 1.000 |" in readme
    # a GPE inside an ORG (اللبنانية in وزارة الخارجية اللبنانية) is in the flat layer of the second annotator
    # only: the spans agree, some tokens do not
    assert "| `GPE` | 100.0 | 100.0 | 0.780 | 0.780 |" in readme
    assert "| `ORG` | 0.0 | 0.0 | 0.000 |" in readme
    assert "| `PHYS.Located` | 100.0 |" in readme and "| `ORG-AFF.Employment` | 0.0 |" in readme
    warnings = [(p.code, p.details["label"]) for p in result.report.problems if p.code == "build-low-agreement"]
    assert warnings == [("build-low-agreement", "ORG")]
    assert result.stats.to_dict()["agreement"] == report_of(tasks).to_dict()
    quiet = build_release(export, version="1.0.0", out=tmp_path / "out2", name="test/agree", workers=0)
    assert not [p for p in quiet.report.problems if p.code == "build-low-agreement"]


def test_cli_build_min_agreement_option(tmp_path: Path) -> None:
    export = write_export(tmp_path / "export.json", _build_tasks())
    result = runner.invoke(app, ["build", str(export), "--version", "1.0.0", "--out", str(tmp_path / "out"),
                                 "--workers", "0", "--min-agreement", "0.5", "--json"])
    assert result.exit_code == 0, result.output
    problems = json.loads(result.stdout)["problems"]
    assert [(p["code"], p["details"]["label"]) for p in problems if p["code"] == "build-low-agreement"] == [
        ("build-low-agreement", "ORG")]


def test_each_annotator_against_the_ground_truth_and_adjudicated_gold_is_no_annotator(tmp_path) -> None:
    # Task 1: annotators 11 and 12 and a ground truth written by adjudicate (every item of origin
    # "adjudication"): the gold is nobody's annotation, so one pair, and each annotator is compared with it.
    # Task 2: an expert marked 11's annotation as the truth: 11 is not compared with itself, 12 is.
    gold = [{**item, "origin": "adjudication"} for item in first_result()]
    adjudicated = {**ann(3, 99, gold), "ground_truth": True}
    marked = {**ann(5, 11, first_result()), "ground_truth": True}
    tasks = [ls_task(1, TEXT, [ann(1, 11, first_result()), ann(2, 12, second_result()), adjudicated]),
             ls_task(2, TEXT, [marked, ann(6, 12, second_result())])]
    export = write_export(tmp_path / "gold.json", tasks)
    agreement, report = agree_export(export, name_of=annotator_name)
    assert report.valid, report.to_dict()
    data = agreement.to_dict()
    assert data["pairs"] == 2 and annotator_name(99) not in data["annotators"]
    first, second = annotator_name(11), annotator_name(12)
    # 11 gave the gold itself on task 1: 5 of 5 spans, 2 of 2 relations; 12 against it on both tasks: spans
    # محمد علي and دبي of 5 (twice), relation p->d of 2 (the other's tail is the clitic span) (twice)
    assert data["against_gold"] == {
        first: {"tasks": 1, "spans": {"precision": 1.0, "recall": 1.0, "f1": 1.0},
                "relations": {"precision": 1.0, "recall": 1.0, "f1": 1.0}},
        second: {"tasks": 2, "spans": {"precision": 0.4, "recall": 0.4, "f1": 0.4},
                 "relations": {"precision": 0.5, "recall": 0.5, "f1": 0.5}},
    }
    assert "## Each annotator against the ground truth" in agreement.to_markdown()


def tags_one_annotation_at_a_time(text: str, annotations, segmentation: str) -> list[list[str]]:
    """The tags agreement compares, written plainly: spans_to_bio of each annotation's spans inside the text."""
    return [spans_to_bio(text, [Span(start, end, label) for start, end, label in a.spans
                                if type(start) is int and type(end) is int and 0 <= start < end <= len(text)],
                         segmentation).tags
            for a in annotations]


def tags_at_once(text: str, annotations, segmentation: str) -> list[list[str]]:
    """The tags agreement counts: every annotation's tags from one call, as tag names."""
    tags, counts, names = _tag_ids([text] * len(annotations), [a.spans for a in annotations], segmentation)
    return [[names[tag] for tag in part] for part in np.split(tags, np.cumsum(counts)[:-1])]


AGREEMENT_TEXT = "وقال الرئيس الروسي فلاديمير بوتين في بغداد وبغداد، للجامعة العربية 😀 \u200fوالمملكة\r\nالأردنية"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(-1, len(AGREEMENT_TEXT) + 1), st.integers(-1, len(AGREEMENT_TEXT) + 1),
                                   st.sampled_from(["PER", "GPE", "ORG", "LOC"])), max_size=8),
                min_size=2, max_size=4),
       st.sampled_from(["none", "proclitic-article"]))
def test_token_tags_of_all_annotators_at_once_are_spans_to_bio_of_each(span_lists, segmentation):
    annotations = [AnnotatorAnnotation(f"a{k}", tuple(spans)) for k, spans in enumerate(span_lists)]
    expected = tags_one_annotation_at_a_time(AGREEMENT_TEXT, annotations, segmentation)
    assert tags_at_once(AGREEMENT_TEXT, annotations, segmentation) == expected


@pytest.mark.parametrize("spans", [
    [[(len("وقال "), len("وقال الرئيس"), "PER")], [(len("وقال ال"), len("وقال الرئيس الروسي"), "PER")]],
    [[(0, len(AGREEMENT_TEXT), "ORG"), (len("وقال "), len("وقال الرئيس"), "PER")], []],
    [[(len("وقال الرئيس"), len("وقال الرئيس "), "PER")], [(5, 3, "GPE"), ("x", 4, "GPE")]],  # whitespace, bad
    [[(0, len("وقال"), "PER"), (0, len("وقال"), "GPE")], [(0, len("وقال"), "GPE"), (0, len("وقال"), "PER")]],  # ties
])
def test_token_tags_on_crafted_spans(spans):
    annotations = [AnnotatorAnnotation(f"a{k}", tuple(one)) for k, one in enumerate(spans)]
    for segmentation in ("none", "proclitic-article"):
        expected = tags_one_annotation_at_a_time(AGREEMENT_TEXT, annotations, segmentation)
        assert tags_at_once(AGREEMENT_TEXT, annotations, segmentation) == expected


# Text from Arabic letters with diacritics, tatweel, a bidi mark, an emoji, CRLF, punctuation and digits.
_PIECES = ["و", "ب", "ال", "محمد", "بغداد", "َ", "ّ", "ـ", "\u200f", "😀", "\r\n", " ", " ", "،", ".", "12", "abc"]


@st.composite
def _agreement_tasks(draw):
    """Tasks of 1 to 3 annotators (of four) with random spans (some outside the text, repeated or at the same
    offsets with another label) and relations between them."""
    tasks = []
    for task_id in range(draw(st.integers(1, 4))):
        text = "".join(draw(st.lists(st.sampled_from(_PIECES), max_size=25)))
        offsets = st.integers(-1, len(text) + 1)
        annotations = []
        for name in draw(st.lists(st.sampled_from(["ann-a", "ann-b", "ann-c", "ann-d"]), min_size=1, max_size=3,
                                  unique=True)):
            spans = draw(st.lists(st.tuples(offsets, offsets, st.sampled_from(["PER", "GPE", "ORG"])), max_size=7))
            spans += draw(st.lists(st.sampled_from(spans), max_size=2)) if spans else []  # repeated spans
            relations = (draw(st.lists(st.tuples(st.sampled_from(spans), st.sampled_from(spans),
                                                 st.sampled_from(["PHYS.Located", "PART-WHOLE"])), max_size=3))
                         if spans else [])
            annotations.append(AnnotatorAnnotation(name, tuple(spans), tuple(relations)))
        tasks.append((draw(st.sampled_from([task_id, f"t{task_id}"])), text, annotations))
    return tasks


@settings(max_examples=150, deadline=None)
@given(st.lists(_agreement_tasks(), min_size=1, max_size=3), st.sampled_from(["none", "proclitic-article"]),
       st.sampled_from([(1 << 20, 1 << 20), (1, 1), (40, 7)]))
def test_agreement_counts_equal_a_plain_reference_computation(parts, segmentation, limits):
    """Tasks counted in parts (queued tokens counted at once, in chunks of pairs; each part pickled as a worker
    sends it) and merged equal the counts written one pair at a time from the definitions."""
    from corpus_tools.teams import agreement

    saved = agreement._QUEUE_LIMIT, agreement._CHUNK_TOKENS
    agreement._QUEUE_LIMIT, agreement._CHUNK_TOKENS = limits
    try:
        merged = AgreementReport(segmentation=segmentation, lowest_count=3)
        for tasks in parts:
            part = AgreementReport(segmentation=segmentation, lowest_count=3)
            for task_id, text, annotations in tasks:
                part.add_task(task_id, text, annotations)
            merged.merge(pickle.loads(pickle.dumps(part)))
    finally:
        agreement._QUEUE_LIMIT, agreement._CHUNK_TOKENS = saved
    expected = reference_report([task for tasks in parts for task in tasks], segmentation=segmentation,
                                lowest_count=3)
    assert merged == expected
    assert merged.to_dict() == expected.to_dict()


def test_the_python_example_of_the_docs_page_runs_and_names_annotators_as_the_cli(repo_root, tmp_path, monkeypatch):
    page = (repo_root / "docs" / "teams.md").read_text(encoding="utf-8")
    example = page.split("exits 3. Otherwise it exits 0, whatever the")[1].split("```python\n")[1].split("```")[0]
    art = news_article(1)
    write_export(tmp_path / "export.json", [task(1, art, [annotation(11, art.result("a-"), annotator=21),
                                                          annotation(12, art.result("b-"), annotator=22)])])
    monkeypatch.chdir(tmp_path)
    names: dict = {}
    exec(compile(example, "docs/teams.md", "exec"), names)  # noqa: S102 - the page's own example
    assert names["report"].valid and names["agreement"].to_dict()["spans"]["exact"]["micro"]["f1"] == 1.0
    cli = runner.invoke(app, ["agree", "export.json", "--json", "--quiet"])
    assert cli.exit_code == 0 and json.loads(cli.stdout) == names["agreement"].to_dict()
