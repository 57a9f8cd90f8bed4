"""The semantic checker's clean-result pass accepts exactly what its full checks accept.

``check_task`` first puts each result to ``clean_result``, which proves it clean through a few memo
lookups (``LEFT_EDGE``, ``RIGHT_EDGE``, ``PROCLITIC_BEFORE``, ``NAME_TEXT``) and a set of allowed relation
triples; any doubt sends the whole result to ``check_result``, the full checks, which report.  Here every
task is checked twice, once as usual and once with empty memos that never learn and no allowed triple (so
no result passes as clean and every one takes the full checks), and the problems and counts must be the
same.
"""

from __future__ import annotations

import copy
import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_validate_properties import valid_tasks

import corpus_tools.rules as checks
from corpus_tools.offsets import (
    LEFT_WINDOW,
    PREFIX_WINDOW,
    _left_edge,
    _proclitic,
    _right_edge,
    is_edge_forbidden,
    is_edge_punctuation,
    is_word_char,
    left_edge_prefix,
    right_edge_rest,
)
from corpus_tools.ontology import load_ontology
from corpus_tools.rules import SemanticChecker
from corpus_tools.text import TATWEEL

ONTOLOGY = load_ontology()
PROFILE = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Letters (proclitics among them), harakat, tatweel, digits, ZWNJ/ZWJ, bidi marks, spaces, punctuation, emoji.
CHARS = "وفبلكاسمنية" "\u064e\u0650\u0651" "\u0640" "1١" "\u200c\u200d\u200f" " \n" ".،" "😀"


def problems(task: dict, policy: str, *, full: bool = False) -> tuple[list[dict], dict]:
    checker = SemanticChecker(dataclasses.replace(ONTOLOGY, overlap=policy))
    if full:
        checker._allowed = frozenset()  # no relation passes the clean-result pass
    out: list = []
    checker.check_task(task, "$", out)
    return [p.to_dict() for p in out], checker.counts


@st.composite
def mutated_tasks(draw) -> dict:
    """A valid task, then a few edits that the clean-result pass must notice (or not) exactly as the full checks do."""
    task = draw(valid_tasks(with_relations=draw(st.booleans())))
    text = task["data"]["text"]
    result = task["annotations"][0]["result"]
    spans = [item for item in result if item["type"] == "labels"]
    for _ in range(draw(st.integers(1, 4))):
        span = draw(st.sampled_from(spans))
        value = span["value"]
        edit = draw(st.sampled_from(["start", "end", "char", "copy", "order", "label", "relation", "relation"]))
        if edit in ("start", "end"):  # move an edge, keeping value.text in step with the offsets
            value[edit] = min(max(value[edit] + draw(st.integers(-3, 3)), 0), len(text))
            value["text"] = text[value["start"] : value["end"]]
        elif edit == "char":  # change the character before, at or after an edge
            at = draw(st.sampled_from([value["start"] - 2, value["start"] - 1, value["start"], value["end"] - 1,
                                       value["end"]]))
            if 0 <= at < len(text):
                text = text[:at] + draw(st.sampled_from(CHARS[:-1])) + text[at + 1 :]
                task["data"]["text"] = text
                for other in spans:
                    other["value"]["text"] = text[other["value"]["start"] : other["value"]["end"]]
        elif edit == "copy":  # a duplicate region (same id) or a duplicate span (new id)
            twin = copy.deepcopy(span)
            if draw(st.booleans()):
                twin["id"] += "-twin"
            result.insert(draw(st.integers(0, len(result))), twin)
        elif edit == "order":
            result[:] = draw(st.permutations(result))
        elif edit == "label":
            value["labels"] = [draw(st.sampled_from([*ONTOLOGY.entity_labels, "NOPE"]))]
        else:  # a relation, most often one whose types fit (possibly twice, reversed or 'bi' on a directed one)
            head, tail = draw(st.sampled_from(spans)), draw(st.sampled_from(spans))
            fitting = [r.label for r in ONTOLOGY.relations
                       if r.allows(head["value"]["labels"][0], tail["value"]["labels"][0])]
            direction = draw(st.sampled_from(["right", "left", "bi"]))
            ends = (tail, head) if direction == "left" else (head, tail)
            result.append({"from_id": ends[0]["id"], "to_id": ends[1]["id"], "type": "relation",
                           "direction": direction,
                           "labels": [draw(st.sampled_from(fitting or list(ONTOLOGY.relation_labels)))]})
    return task


@PROFILE
@given(task=mutated_tasks(), policy=st.sampled_from(["nested", "forbid", "any"]))
def test_clean_result_pass_reports_what_the_full_checks_report(task, policy):
    fast = problems(task, policy)
    with pytest.MonkeyPatch.context() as mp:  # memos that never learn: every span takes the full checks
        for name in ("LEFT_EDGE", "RIGHT_EDGE", "PROCLITIC_BEFORE", "NAME_TEXT"):
            mp.setattr(checks, name, {})
        mp.setattr(checks, "learn_edges", lambda text, start, end: None)
        full = problems(task, policy, full=True)
    assert fast == full


@PROFILE
@given(text=st.text(st.sampled_from(CHARS), min_size=1, max_size=12), data=st.data())
def test_edge_memos_agree_with_the_word_rules(text, data):
    """Where a memo answers True or False, the full rules give the same answer; None is only "not sure"."""
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    first, last = text[start], text[end - 1]
    after_letter = start > 0 and is_word_char(text[start - 1])
    start_ok = (not is_edge_forbidden(first) and not is_edge_punctuation(first)
                and not (first == TATWEEL and after_letter) and left_edge_prefix(text, start) is None)
    left = _left_edge(text[max(0, start - LEFT_WINDOW) : start + 1])
    if left is None:
        left = _proclitic(text[max(0, start - PREFIX_WINDOW) : start], PREFIX_WINDOW)
    assert left is None or left == start_ok
    end_ok = not is_edge_forbidden(last) and not is_edge_punctuation(last) and right_edge_rest(text, end) is None
    assert _right_edge(text[end - 1 : end + 1]) == end_ok


@pytest.mark.parametrize(
    ("before", "expected"),
    [
        (" ل", True), (" لـ", True), (" وَل", True), (" وَلـ", True), ("ول", True), ("ل", True),
        (" فبـ", True), ("كل", False), (" مل", False), ("ـل", False), (" 1ل", False),
        ("الكتب", None),  # five word characters: the word may begin before them
    ],
)
def test_proclitic_window(before, expected):
    assert _proclitic(before, PREFIX_WINDOW) is expected


@PROFILE
@given(task=mutated_tasks())
def test_what_validation_keeps_for_the_build_is_what_read_result_reads(task):
    """The build takes an annotation's spans and relations from what the checker returns (``keep_reads``) instead
    of reading its result again: for every annotation the checker keeps, they equal ``read_result``'s; an
    annotation with a region that took the full checks is not kept."""
    from corpus_tools.labelstudio.export import read_result

    checker = SemanticChecker(ONTOLOGY)
    assert checker.check_task(task, "$", []) == {}  # nothing kept unless asked
    reads = checker.check_task(task, "$", [], keep_reads=True)
    text = task["data"]["text"]
    annotations = task.get("annotations", [])
    results = {i: a["result"] for i, a in enumerate(annotations)
               if isinstance(a, dict) and isinstance(a.get("result"), list)}
    assert set(reads) <= set(results)
    for i, read in reads.items():
        assert read == read_result(results[i], text)
    # one region that only the full checks take (a float offset): its annotation is not kept
    result = task["annotations"][0]["result"]
    region = next(item for item in result if item["type"] == "labels")
    region["value"]["start"] = float(region["value"]["start"])
    assert 0 not in checker.check_task(task, "$", [], keep_reads=True)
