"""Properties: generated valid exports never give a problem; one mutation always gives its code.

Texts are Arabic words with harakat and tatweel, joined by spaces, CRLF, punctuation, emoji and
bidi marks (never at a span edge); mentions may follow a proclitic (و ب ل, وب, with a tatweel or a
haraka) and may nest under the ontology's ``nested`` policy.
"""

from __future__ import annotations

import copy
import json

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from corpus_tools.keys import SeenKeys
from corpus_tools.offsets import utf16_to_code_points
from corpus_tools.ontology import load_ontology
from corpus_tools.validate.driver import repair_utf16_export, validate_export, validate_task

ONTOLOGY = load_ontology()
LABELS = list(ONTOLOGY.entity_labels)
LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهويةىءأإآ"
HARAKAT = "\u064e\u064f\u0650\u0651\u0652"
SEPARATORS = [" ", " ", " ", "\r\n", "، ", " « ", " 😀 ", " \u200f", "\u200f ", " \u061c", " 🇫🇷 ", ". "]
CLITICS = ["", "", "و", "ب", "ل", "وب", "ول", "لـ", "وَ"]
PROFILE = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def words(draw) -> str:
    letters = draw(st.lists(st.sampled_from(LETTERS), min_size=2, max_size=7))
    out = letters[0]
    for letter in letters[1:]:
        out += draw(st.sampled_from(["", "", "", *HARAKAT, "ـ"])) + letter
    return out + draw(st.sampled_from(["", "", *HARAKAT]))


@st.composite
def valid_tasks(draw, task_id: int = 1, with_relations: bool = False) -> dict:
    """A Label Studio task whose spans, nested spans and relations (between outermost spans) all satisfy the
    ontology (``with_relations``: at least one relation, the first mention a PER)."""
    text = ""
    spans: list[dict] = []
    for k in range(draw(st.integers(2 if with_relations else 1, 6))):
        filler = draw(st.lists(words(), max_size=3))
        for word in filler:
            text += word + draw(st.sampled_from(SEPARATORS))
        if text and not text[-1].isspace() and text[-1] not in "\u200f\u061c«،.":
            text += " "
        text += draw(st.sampled_from(CLITICS))
        mention = draw(st.lists(words(), min_size=1, max_size=3))
        start = len(text)
        text += " ".join(mention)
        label = "PER" if with_relations and k == 0 else draw(st.sampled_from(LABELS))
        spans.append({"id": f"s{k}", "start": start, "end": len(text), "label": label})
        if len(mention) > 1 and draw(st.booleans()):  # a nested span on the last word
            inner = start + len(" ".join(mention[:-1])) + 1
            spans.append({"id": f"s{k}n", "start": inner, "end": len(text), "label": draw(st.sampled_from(LABELS))})
        text += draw(st.sampled_from(SEPARATORS))
    result: list[dict] = [
        {"id": s["id"], "from_name": "label", "to_name": "text", "type": "labels",
         "value": {"start": s["start"], "end": s["end"], "text": text[s["start"]:s["end"]], "labels": [s["label"]]}}
        for s in spans
    ]
    outermost = [s for s in spans if not s["id"].endswith("n")]  # relations never use a nested span
    triples = [(h, t, r) for h in outermost for t in outermost for r in ONTOLOGY.relations
               if h["id"] != t["id"] and h["label"] in r.head and t["label"] in r.tail]
    if with_relations:
        assume(triples)
    chosen = draw(st.lists(st.sampled_from(triples), min_size=1 if with_relations else 0, max_size=4)
                  if triples else st.just([]))
    seen: set[tuple[str, str, str]] = set()
    for head, tail, rel in chosen:
        reverse_seen = rel.symmetric and (tail["id"], head["id"], rel.label) in seen
        if (head["id"], tail["id"], rel.label) in seen or reverse_seen:
            continue
        seen.add((head["id"], tail["id"], rel.label))
        direction = draw(st.sampled_from(["right", "left", "bi"] if rel.symmetric else ["right", "left"]))
        ends = (tail["id"], head["id"]) if direction == "left" else (head["id"], tail["id"])
        result.append({"from_id": ends[0], "to_id": ends[1], "type": "relation", "direction": direction,
                       "labels": [rel.label]})
    task = {"id": task_id, "data": {"text": text, "article_id": f"a{task_id}"},
            "annotations": [{"id": 10 + task_id, "result": result, "was_cancelled": False}], "predictions": []}
    if draw(st.booleans()):
        task["predictions"] = [{"id": 20 + task_id, "model_version": "m", "score": 0.9,
                                "result": copy.deepcopy(result)}]
    return task


def codes(task: dict) -> list[str]:
    return [p.code for p in validate_task(task, ontology=ONTOLOGY)]


def spans_of(task: dict) -> list[dict]:
    return [i for i in task["annotations"][0]["result"] if i["type"] == "labels"]


def relations_of(task: dict) -> list[dict]:
    return [i for i in task["annotations"][0]["result"] if i["type"] == "relation"]


@settings(PROFILE, max_examples=150)
@given(valid_tasks())
def test_generated_valid_tasks_have_no_problem(task):
    assert validate_task(task, ontology=ONTOLOGY) == []


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.lists(valid_tasks(), min_size=1, max_size=4))
def test_generated_valid_exports_stream_without_problems(tmp_path, tasks):
    for i, task in enumerate(tasks):
        task["id"], task["data"]["article_id"] = i, f"art-{i}"
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks, ensure_ascii=False, indent=1), encoding="utf-8")
    report = validate_export(path, ontology=ONTOLOGY)
    assert report.problems == [] and report.stats["tasks"] == len(tasks)


@PROFILE
@given(valid_tasks(), st.data())
def test_shifted_start_is_a_text_mismatch(task, data):
    item = data.draw(st.sampled_from(spans_of(task)))
    shift = data.draw(st.sampled_from([-1, 1]))
    if item["value"]["start"] + shift < 0:
        item["value"]["start"] += shift
        assert codes(task) == ["export-schema"]  # a negative offset breaks the schema's minimum
        return
    item["value"]["start"] += shift
    assert "span-text-mismatch" in codes(task)


@PROFILE
@given(valid_tasks(), st.data())
def test_broken_value_text_is_a_text_mismatch(task, data):
    item = data.draw(st.sampled_from(spans_of(task)))
    item["value"]["text"] += "ب"
    assert codes(task) == ["span-text-mismatch"]


@PROFILE
@given(valid_tasks(), st.data())
def test_unknown_label_is_reported(task, data):
    item = data.draw(st.sampled_from(spans_of(task)))
    item["value"]["labels"] = ["MISC"]
    assert "span-unknown-label" in codes(task)


@PROFILE
@given(valid_tasks(), st.data())
def test_end_past_text_is_out_of_range(task, data):
    item = data.draw(st.sampled_from(spans_of(task)))
    item["value"]["end"] = len(task["data"]["text"]) + data.draw(st.integers(1, 5))
    assert "span-out-of-range" in codes(task) or "span-utf16-offsets" in codes(task)


@PROFILE
@given(valid_tasks(with_relations=True), st.data())
def test_dangling_relation_is_reported(task, data):
    relations = relations_of(task)
    item = data.draw(st.sampled_from(relations))
    item[data.draw(st.sampled_from(["from_id", "to_id"]))] = "no-such-region"
    assert "relation-dangling" in codes(task)


@PROFILE
@given(valid_tasks(with_relations=True), st.data())
def test_reversed_directed_relation_breaks_domain_or_range(task, data):
    relations = [r for r in relations_of(task) if not ONTOLOGY.relation(r["labels"][0]).symmetric]
    assume(relations)
    item = data.draw(st.sampled_from(relations))
    labels = {s["id"]: s["value"]["labels"][0] for s in spans_of(task)}
    rel = ONTOLOGY.relation(item["labels"][0])
    head, tail = item["from_id"], item["to_id"]
    if item["direction"] == "left":
        head, tail = tail, head
    assume(not rel.allows(labels[tail], labels[head]))
    item["direction"] = "left" if item["direction"] == "right" else "right"
    found = codes(task)
    if labels[tail] not in rel.head:
        assert "relation-domain" in found
    if labels[head] not in rel.tail:
        assert "relation-range" in found


@PROFILE
@given(valid_tasks(), st.data())
def test_crossing_span_is_an_overlap(task, data):
    item = data.draw(st.sampled_from(spans_of(task)))
    start, end = item["value"]["start"], item["value"]["end"]
    text = task["data"]["text"]
    assume(end - start >= 2 and end + 2 <= len(text))
    cut = data.draw(st.integers(start + 1, end - 1))
    stop = data.draw(st.integers(end + 1, len(text)))
    task["annotations"][0]["result"].append(
        {"id": "cross", "from_name": "label", "to_name": "text", "type": "labels",
         "value": {"start": cut, "end": stop, "text": text[cut:stop], "labels": ["PER"]}})
    assert "span-overlap" in codes(task)


@PROFILE
@given(valid_tasks(), st.data())
def test_extending_over_whitespace_is_an_edge_problem(task, data):
    text = task["data"]["text"]
    candidates = [s for s in spans_of(task) if s["value"]["end"] < len(text)
                  and (text[s["value"]["end"]].isspace() or text[s["value"]["end"]] in "\u200f\u061c")]
    assume(candidates)
    item = data.draw(st.sampled_from(candidates))
    item["value"]["end"] += 1
    item["value"]["text"] = text[item["value"]["start"]:item["value"]["end"]]
    found = codes(task)
    assert "span-edge-whitespace" in found or "span-edge-control" in found


@PROFILE
@given(valid_tasks(), st.data())
def test_self_relation_and_duplicate_span_are_reported(task, data):
    item = data.draw(st.sampled_from(spans_of(task)))
    task["annotations"][0]["result"].append({"from_id": item["id"], "to_id": item["id"], "type": "relation",
                                             "direction": "right", "labels": ["PHYS.Near"]})
    twin = copy.deepcopy(item)
    twin["id"] = "twin"
    task["annotations"][0]["result"].append(twin)
    found = codes(task)
    assert "relation-self" in found and "span-duplicate" in found


@PROFILE
@given(valid_tasks())
def test_utf16_offsets_are_detected_and_repaired_exactly(task):
    text = task["data"]["text"]
    changed = []
    for item in spans_of(task):
        value = item["value"]
        start16 = len(text[: value["start"]].encode("utf-16-le")) // 2
        end16 = start16 + len(value["text"].encode("utf-16-le")) // 2
        if (start16, end16) != (value["start"], value["end"]):
            if text[start16:end16] != value["text"]:  # else they still read as right code points: undetectable
                changed.append((item["id"], value["start"], value["end"]))
            value["start"], value["end"] = start16, end16
    assume(changed)
    problems = [p for p in validate_task(task, ontology=ONTOLOGY) if p.code == "span-utf16-offsets"]
    repaired = {(p.details["start"], p.details["end"]) for p in problems}
    assert repaired == {(start, end) for _, start, end in changed}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.lists(valid_tasks(), min_size=1, max_size=3))
def test_repair_utf16_restores_the_original_export(tmp_path, tasks):
    for i, task in enumerate(tasks):
        task["id"], task["data"]["article_id"] = i, f"art-{i}"
    original = copy.deepcopy(tasks)
    for task in tasks:
        text = task["data"]["text"]
        for kind in ("annotations", "predictions"):
            for ann in task[kind]:
                for item in ann["result"]:
                    if item["type"] == "labels":
                        value = item["value"]
                        start16 = len(text[: value["start"]].encode("utf-16-le")) // 2
                        end16 = start16 + len(value["text"].encode("utf-16-le")) // 2
                        # shifted offsets that still select the span's text read as right code points
                        assume(start16 == value["start"] or text[start16:end16] != value["text"])
                        value["start"], value["end"] = start16, end16
    path, out = tmp_path / "utf16.json", tmp_path / "fixed.json"
    path.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    report = repair_utf16_export(path, out, ontology=ONTOLOGY)
    assert report.problems == [] and report.stats["written"] is True
    assert json.loads(out.read_text(encoding="utf-8")) == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fixed.json", "utf16.json"]


@given(st.text(alphabet="ab😀🇫🇷c\u0640", max_size=20), st.data())
def test_utf16_to_code_points_inverts_utf16_counting(text, data):
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    start16 = len(text[:start].encode("utf-16-le")) // 2
    end16 = len(text[:end].encode("utf-16-le")) // 2
    expected = None if (start16, end16) == (start, end) else (start, end)
    assert utf16_to_code_points(text, start16, end16) == expected


@given(st.lists(st.text(alphabet="abcو", max_size=3), max_size=300))
def test_seen_keys_behaves_like_a_dict_of_first_rows(keys):
    seen = SeenKeys()
    first: dict[str, int] = {}
    for row, key in enumerate(keys):
        expected = (first[key], f"id{first[key]}") if key in first else None
        assert seen.first(key, row, f"id{row}") == expected
        first.setdefault(key, row)


@PROFILE
@given(valid_tasks(), st.sampled_from(list(".،؛:!؟»)\"-")), st.booleans())
def test_punctuation_taken_into_a_span_is_an_edge_error(task, mark, at_start):
    """A punctuation mark written at either edge of a mention and taken into its span is span-edge-punctuation at
    that edge, and nothing else (the first mention, an outermost span)."""
    task["predictions"] = []
    result = task["annotations"][0]["result"]
    first = result[0]["value"]
    at = first["start"] if at_start else first["end"]
    text = task["data"]["text"]
    task["data"]["text"] = text = text[:at] + mark + text[at:]
    for item in spans_of(task):  # every offset after the new mark moves by one
        value = item["value"]
        value["start"] += value["start"] > at or (value["start"] == at and item is not result[0])
        value["end"] += value["end"] > at
    if not at_start:
        first["end"] += 1  # the first span takes the mark in (at the start, the shift of its end did)
    for item in spans_of(task):
        item["value"]["text"] = text[item["value"]["start"] : item["value"]["end"]]
    edge = "start" if at_start else "end"
    assert [(p.code, p.json_path) for p in validate_task(task, ontology=ONTOLOGY)] == [
        ("span-edge-punctuation", f"$.annotations[0].result[0].value.{edge}")
    ]
