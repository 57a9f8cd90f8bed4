"""The clean-result pass decides exactly what the full checks decide.

``SemanticChecker.clean_result`` proves with few lookups that one annotation's result has no problem at all and
otherwise answers None ("not sure"), so that ``check_result``, which runs every check and locates every problem,
takes over.  Here random results, valid and broken, go through both: whenever the pass calls a result clean the
full checks find no problem, and whenever the full checks (and the export schema) find none the pass calls it
clean, except for the few inputs it leaves to the full checks by design (an integral float offset, a name longer
than the name memo's keys).
"""

from __future__ import annotations

import copy
import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_validate_fast import mutated_tasks

from corpus_tools.checks import ItemChecker
from corpus_tools.labelstudio.export import read_result
from corpus_tools.offsets import _NAME_KEY_CHARS
from corpus_tools.ontology import load_ontology
from corpus_tools.rules import SemanticChecker, _Where

ONTOLOGY = load_ontology()
SCHEMA = ItemChecker(ONTOLOGY).task_schema
PROFILE = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Edits of one region or relation: each breaks a rule of the semantic checks or the export schema, or keeps the
# result valid in a form the fast reading must still accept (a relation without a direction, an extra key).
REGION_EDITS = [
    "float-offset", "drop-id", "drop-from-name", "drop-value", "drop-text", "drop-labels", "value-list",
    "from-name", "to-name", "end-out", "empty", "text-changed", "text-collapsed", "no-label", "two-labels",
    "unknown-label", "int-label", "id-twice", "id-int", "shift", "start-negative", "extra-key", "type-other",
    "text-of-another", "crossing",
]
RELATION_EDITS = [
    "dangling", "self", "no-labels", "drop-labels", "unknown-label", "two-labels", "bi", "drop-direction",
    "reverse", "copy", "from-int", "inner-end",
]
# Edits after which a result without any problem may still take the full checks (by design, see above).
LEFT_TO_THE_FULL_CHECKS = {"float-offset"}


@st.composite
def broken_tasks(draw) -> tuple[dict, set[str]]:
    """A task from ``mutated_tasks`` and a few more edits of its first annotation's result; the edits' names."""
    task = draw(mutated_tasks())
    text = task["data"]["text"]
    result = task["annotations"][0]["result"]
    edits: set[str] = set()
    for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2, 3]))):
        regions = [item for item in result if type(item) is dict and item.get("type") == "labels"
                   and type(item.get("value")) is dict]
        relations = [item for item in result if type(item) is dict and item.get("type") == "relation"]
        edit = draw(st.sampled_from(REGION_EDITS + RELATION_EDITS + ["not-an-object"]))
        if edit == "not-an-object":  # not a result item at all (the export schema's to report)
            result.insert(draw(st.integers(0, len(result))), draw(st.sampled_from(["x", 3, None, ["labels"]])))
            edits.add(edit)
            continue
        if edit in RELATION_EDITS:
            if not relations:
                continue
            item = draw(st.sampled_from(relations))
            edits.add(edit)
            if edit == "dangling":
                item["to_id"] = "nowhere"
            elif edit == "self":
                item["to_id"] = item["from_id"]
            elif edit == "no-labels":
                item["labels"] = []
            elif edit == "drop-labels":
                item.pop("labels", None)
            elif edit == "unknown-label":
                item["labels"] = ["NOPE.Relation"]
            elif edit == "two-labels":
                item["labels"] = [*item.get("labels", []), ONTOLOGY.relation_labels[0]]
            elif edit == "bi":
                item["direction"] = "bi"
            elif edit == "drop-direction":
                item.pop("direction", None)
            elif edit == "reverse":
                item["from_id"], item["to_id"] = item["to_id"], item["from_id"]
            elif edit == "copy":
                result.append(copy.deepcopy(item))
            elif edit == "from-int":
                item["from_id"] = 7
            else:  # a relation end on a nested region, when there is one
                nested = [r["id"] for r in regions if str(r.get("id")).endswith("n")]
                if nested:
                    item["to_id"] = draw(st.sampled_from(nested))
            continue
        if not regions:
            continue
        item = draw(st.sampled_from(regions))
        value = item["value"]
        edits.add(edit)
        if edit == "float-offset":
            value["start"] = float(value["start"])
        elif edit.startswith("drop-"):
            key = edit.removeprefix("drop-").replace("-", "_")
            (value if key in ("text", "labels") else item).pop(key, None)
        elif edit == "value-list":
            item["value"] = [value]
        elif edit == "from-name":
            item["from_name"] = "ner"
        elif edit == "to-name":
            item["to_name"] = "body"
        elif edit == "end-out":
            value["end"] = len(text) + 2
        elif edit == "empty":
            value["end"] = value["start"]
            value["text"] = ""
        elif edit == "text-changed":
            value["text"] = value.get("text", "") + "ا"
        elif edit == "text-collapsed":  # the stored text with a whitespace run doubled, as Label Studio may store
            stored = value.get("text", "")
            value["text"] = stored.replace(" ", "  ", 1) if " " in stored else stored + " "
        elif edit == "no-label":
            value["labels"] = []
        elif edit == "two-labels":
            value["labels"] = [*value.get("labels", []), "ORG"]
        elif edit == "unknown-label":
            value["labels"] = ["NOPE"]
        elif edit == "int-label":
            value["labels"] = [3]
        elif edit == "id-twice":
            item["id"] = draw(st.sampled_from(regions))["id"]
        elif edit == "id-int":
            item["id"] = 5
        elif edit == "shift":  # both offsets moved, value.text kept (after an emoji: UTF-16 units)
            step = draw(st.sampled_from([-1, 1]))
            value["start"] = max(value["start"] + step, 0)
            value["end"] = min(value["end"] + step, len(text))
        elif edit == "start-negative":
            value["start"] = -1
        elif edit == "text-of-another":  # another region's text (a name the memos know), the offsets kept
            value["text"] = draw(st.sampled_from(regions))["value"].get("text", "")
        elif edit == "crossing":  # a new region from inside a mention's second word to the end of a later mention
            later = [r for r in regions if type(r["value"].get("end")) is int and r["value"]["start"] >= value["end"]]
            stored = text[value["start"] : value["end"]] if type(value["start"]) is int and value["start"] >= 0 else ""
            if " " in stored and later:
                start = value["start"] + stored.index(" ") + 1
                end = draw(st.sampled_from(later))["value"]["end"]
                result.append({"id": "crossing", "from_name": "label", "to_name": "text", "type": "labels",
                               "value": {"start": start, "end": end, "text": text[start:end], "labels": ["LOC"]}})
        elif edit == "extra-key":
            item["origin"] = "prediction"
            value["score"] = 0.5
        else:
            item["type"] = "choices"
    return task, edits


def full_problems(checker: SemanticChecker, result: list, text: str) -> list[dict]:
    out: list = []
    checker.check_result(result, text, "$.annotations[0].result", _Where(out, 1))
    return [p.to_dict() for p in out]


@PROFILE
@given(case=broken_tasks(), policy=st.sampled_from(["nested", "forbid", "any"]))
def test_clean_result_agrees_with_the_full_checks(case, policy):
    task, edits = case
    checker = SemanticChecker(dataclasses.replace(ONTOLOGY, overlap=policy))
    text = task["data"]["text"]
    result = task["annotations"][0]["result"]
    problems = full_problems(checker, result, text)  # (the full checks also fill the edge memos)
    clean = checker.clean_result(result, text)
    if clean is not None:
        assert problems == []
        assert clean == read_result(result, text)
    names_fit = all(len(item["value"]["text"]) <= _NAME_KEY_CHARS for item in result
                    if type(item) is dict and item.get("type") == "labels" and type(item.get("value")) is dict
                    and type(item["value"].get("text")) is str)
    if not problems and SCHEMA.is_valid(task) and names_fit and not edits & LEFT_TO_THE_FULL_CHECKS:
        assert clean is not None


@PROFILE
@given(case=broken_tasks(), policy=st.sampled_from(["nested", "forbid", "any"]))
def test_check_task_reports_what_the_full_checks_report(case, policy):
    """Through check_task (clean pass first) the problems and counts are those of the full checks alone."""
    task, _edits = case
    ontology = dataclasses.replace(ONTOLOGY, overlap=policy)
    checker, full = SemanticChecker(ontology), SemanticChecker(ontology)
    full.clean_result = lambda result, text: None  # every result takes the full checks
    out: list = []
    checker.check_task(task, "$", out)
    expected: list = []
    full.check_task(task, "$", expected)
    assert [p.to_dict() for p in out] == [p.to_dict() for p in expected]
    assert checker.counts == full.counts


def region(span_id: str, text: str, start: int, end: int, label: str, stored: str | None = None) -> dict:
    return {"id": span_id, "from_name": "label", "to_name": "text", "type": "labels",
            "value": {"start": start, "end": end, "text": text[start:end] if stored is None else stored,
                      "labels": [label]}}


def task_of(text: str, result: list) -> dict:
    return {"id": 1, "data": {"text": text}, "annotations": [{"id": 2, "result": result}]}


def located(checker: SemanticChecker, task: dict) -> list[tuple[str, str]]:
    out: list = []
    checker.check_task(task, "$", out)
    return [(p.code, p.json_path) for p in out]


def test_a_stored_text_naming_another_region_is_not_clean():
    """value.text is compared with the text at the offsets even when it is a name the memos know."""
    text = "قال محمد إن عمّان جميلة"
    person, city = len("قال "), len("قال محمد إن ")
    result = [region("r1", text, person, person + len("محمد"), "PER"),
              region("r2", text, city, city + len("عمّان"), "GPE", stored="محمد")]
    checker = SemanticChecker(ONTOLOGY)
    assert checker.clean_result(result[:1], text) is not None  # the memos now know the name
    assert checker.clean_result(result, text) is None
    assert located(checker, task_of(text, result)) == [("span-text-mismatch", "$.annotations[0].result[1].value.text")]


def test_crossing_spans_are_clean_only_under_the_any_policy():
    text = "زار محمد علي حسن بيروت"
    first, second = len("زار "), len("زار محمد ")
    result = [region("a", text, first, first + len("محمد علي"), "PER"),
              region("b", text, second, second + len("علي حسن"), "PER")]
    anything = SemanticChecker(dataclasses.replace(ONTOLOGY, overlap="any"))
    assert anything.clean_result(result, text) is not None
    assert located(anything, task_of(text, result)) == []
    nested = SemanticChecker(dataclasses.replace(ONTOLOGY, overlap="nested"))
    assert nested.clean_result(result, text) is None
    assert located(nested, task_of(text, result)) == [("span-overlap", "$.annotations[0].result[1]")]
