"""Label Studio result <-> canonical conversion, exact on offsets (pure, no server)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from corpus_tools.labelstudio.export import task_to_document, task_to_records
from corpus_tools.labelstudio.tasks import article_to_task, document_to_result
from corpus_tools.spans import Relation, Span, make_span

TEXT = "😀 زار محمد بن سلمان باريس 🇫🇷 أمس\r\nوالتقى وبغداد"


def test_article_becomes_task_with_article_id():
    task = article_to_task({"id": "a1", "text": TEXT, "title": "t", "source": "الوطن", "lang": "ar",
                            "sha256": "0" * 64, "dateline": None, "paragraphs": []})
    assert task == {"data": {"text": TEXT, "article_id": "a1", "title": "t", "source": "الوطن", "lang": "ar",
                             "sha256": "0" * 64, "dateline": None}}


def test_result_round_trip_after_emoji_crlf_and_clitic():
    per_start = len("😀 زار ")
    gpe_start = len("😀 زار محمد بن سلمان باريس 🇫🇷 أمس\r\nوالتقى و")
    per = make_span(TEXT, per_start, per_start + len("محمد بن سلمان"), "PER", "p1")
    gpe = make_span(TEXT, gpe_start, gpe_start + len("بغداد"), "GPE", "g1")
    rel = Relation("p1", "g1", "PHYS.Located", "p1|PHYS.Located|g1")
    result = document_to_result([per, gpe], [rel], TEXT)
    assert result[0]["value"] == {"start": 6, "end": 19, "text": "محمد بن سلمان", "labels": ["PER"]}
    task = {"id": 7, "data": {"text": TEXT, "article_id": "a1"},
            "annotations": [{"id": 3, "result": result, "completed_by": {"id": 1, "email": "a@b.c"},
                             "lead_time": 2.5, "was_cancelled": False}],
            "predictions": [11]}
    [record] = list(task_to_records(task))
    assert record.entities == [Span(6, 19, "PER", "p1", "محمد بن سلمان"), Span(gpe_start, gpe_start + 5, "GPE",
                                                                               "g1", "بغداد")]
    assert record.relations == [rel]
    assert (record.annotator, record.lead_time, record.kind, record.task_id) == ("a@b.c", 2.5, "annotation", 7)
    doc = task_to_document(task, record)
    assert doc.id == "a1" and doc.entities[1].text == "بغداد" and doc.meta == {"task_id": 7, "annotation_id": 3}


def test_left_direction_swaps_head_and_tail_and_value_text_is_recomputed():
    text = "في  بغداد"
    item = {"id": "x", "from_name": "label", "to_name": "text", "type": "labels",
            "value": {"start": len("في  "), "end": len(text), "text": "WRONG", "labels": ["GPE"]}}
    rel = {"from_id": "x", "to_id": "y", "type": "relation", "direction": "left", "labels": ["R"]}
    task = {"id": 1, "data": {"text": text}, "predictions": [{"id": 4, "result": [item, rel], "model_version": "m1",
                                                                "score": 0.5}]}
    [record] = list(task_to_records(task))
    assert record.kind == "prediction" and record.model_version == "m1"
    assert record.entities[0].text == "بغداد"
    assert record.relations == [Relation("y", "x", "R", "y|R|x")]
    assert task_to_document(task).id == "task-1"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ابت ثج😀\r\n\u200f", min_size=2, max_size=40), st.data())
def test_any_span_survives_result_round_trip(text, data):
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    span = make_span(text, start, end, "PER", "s")
    task = {"id": 1, "data": {"text": text}, "annotations": [{"id": 1, "result": document_to_result([span], [])}]}
    [record] = list(task_to_records(task))
    assert record.entities == [Span(start, end, "PER", "s", text[start:end])]
