"""Prodigy JSONL: tokens from the label-free tokenizer, spans with inclusive token indices (misaligned spans
reported and counted), relations by last token and by span; exact round trips; a file as Prodigy saves it."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from interop_strategies import RLM, corpora

from corpus_tools.interop.format import Context
from corpus_tools.interop.prodigy import read_prodigy, write_prodigy
from corpus_tools.spans import Document, Relation, Span, tokenize

PROFILE = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                           HealthCheck.function_scoped_fixture])


def write(tmp_path: Path, documents: list[Document], segmentation: str = "none") -> tuple[Path, Context]:
    path = tmp_path / "out.jsonl"
    path.unlink(missing_ok=True)
    ctx = Context(segmentation=segmentation)
    write_prodigy(documents, path, ctx)
    return path, ctx


def read(path: Path) -> tuple[list[Document], Context]:
    ctx = Context()
    return list(read_prodigy(path, ctx)), ctx


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def located(ctx: Context) -> list[tuple]:
    return [(p.code, p.line, p.task_id, p.json_path) for p in ctx.report.problems]


def touched(tokens: list[dict], start: int, end: int) -> list[int]:
    """The tokens a character range overlaps, by brute force."""
    return [t["id"] for t in tokens if t["start"] < end and start < t["end"]]


@PROFILE
@given(corpora())
def test_round_trip_is_exact_and_token_indices_are_the_tokens_touched(tmp_path, corpus):
    path, ctx = write(tmp_path, [e.document for e in corpus])
    misaligned = []
    for expected, task in zip(corpus, lines(path), strict=True):
        doc = expected.document
        assert [(t["start"], t["end"]) for t in task["tokens"]] == [(t.start, t.end) for t in tokenize(doc.text)]
        assert [t["text"] for t in task["tokens"]] == [doc.text[t["start"]:t["end"]] for t in task["tokens"]]
        for k, (span, item) in enumerate(zip(doc.entities, task["spans"], strict=True)):
            assert item["text"] == expected.pieces[span.id]
            ids = touched(task["tokens"], span.start, span.end)
            if ids:
                assert (item["token_start"], item["token_end"]) == (ids[0], ids[-1])
            else:
                assert "token_start" not in item
            edges = {t["start"] for t in task["tokens"]}, {t["end"] for t in task["tokens"]}
            if not ids or span.start not in edges[0] or span.end not in edges[1]:
                misaligned.append((doc.id, f"$.entities[{k}]"))
        by_id = {s.id: item for s, item in zip(doc.entities, task["spans"], strict=True)}
        assert [(r["head"], r["child"], r["label"]) for r in task["relations"]] == [
            (by_id[r.head].get("token_end"), by_id[r.tail].get("token_end"), r.label) for r in doc.relations]
    assert [(p.code, p.task_id, p.json_path) for p in ctx.report.problems] == [
        ("prodigy-span-misaligned", doc_id, where) for doc_id, where in misaligned]
    assert ctx.report.stats["prodigy"] == {"spans": sum(len(e.document.entities) for e in corpus),
                                           "misaligned_spans": len(misaligned)}
    back, ctx = read(path)
    assert ctx.report.problems == []
    for expected, got in zip(corpus, back, strict=True):
        doc = expected.document
        assert (got.id, got.text, got.title, got.source, got.lang, got.dateline, got.meta) == (
            doc.id, doc.text, doc.title, doc.source, doc.lang, doc.dateline, doc.meta)
        assert [(s.id, s.start, s.end, s.label, s.text) for s in got.entities] == [
            (s.id, s.start, s.end, s.label, expected.pieces[s.id]) for s in doc.entities]
        assert got.relations == doc.relations


TEXT = f"قال {RLM}محمد{RLM} إن وبغداد و الرياض\r\nتستعدان 😀"


def sample() -> Document:
    per = len(f"قال {RLM}")
    baghdad = len(f"قال {RLM}محمد{RLM} إن و")
    riyadh = len(f"قال {RLM}محمد{RLM} إن وبغداد و ")
    return Document(id="art-9", text=TEXT, entities=[
        Span(per, per + len("محمد"), "PER", "T1", "محمد"),
        Span(baghdad, baghdad + len("بغداد"), "GPE", "T2", "بغداد"),
        Span(riyadh, riyadh + len("الرياض"), "GPE", "T3", "الرياض"),
    ], relations=[Relation("T1", "T3", "located_in", "R1")])


def test_hand_written_sample_tokens_spans_and_relations(tmp_path):
    path, ctx = write(tmp_path, [sample()])
    task = lines(path)[0]
    words = [("قال", 0), ("محمد", len(f"قال {RLM}")), ("إن", len(f"قال {RLM}محمد{RLM} ")),
             ("وبغداد", len(f"قال {RLM}محمد{RLM} إن ")), ("و", len(f"قال {RLM}محمد{RLM} إن وبغداد ")),
             ("الرياض", len(f"قال {RLM}محمد{RLM} إن وبغداد و ")),
             ("تستعدان", len(f"قال {RLM}محمد{RLM} إن وبغداد و الرياض\r\n")),
             ("😀", len(f"قال {RLM}محمد{RLM} إن وبغداد و الرياض\r\nتستعدان "))]
    assert task["tokens"] == [{"text": w, "start": s, "end": s + len(w), "id": i, "ws": ws}
                              for i, ((w, s), ws) in enumerate(zip(words, [True, False, True, True, True, True,
                                                                           True, False], strict=True))]
    assert [(s["token_start"], s["token_end"]) for s in task["spans"]] == [(1, 1), (3, 3), (5, 5)]
    assert task["relations"] == [{
        "head": 1, "child": 5, "label": "located_in", "id": "R1",
        "head_span": {"start": words[1][1], "end": words[1][1] + len("محمد"), "token_start": 1, "token_end": 1,
                      "label": "PER", "id": "T1"},
        "child_span": {"start": words[5][1], "end": words[5][1] + len("الرياض"), "token_start": 5, "token_end": 5,
                       "label": "GPE", "id": "T3"}}]
    assert task["meta"] == {"id": "art-9", "title": "", "source": "", "lang": "ar", "dateline": None}
    assert located(ctx) == [("prodigy-span-misaligned", None, "art-9", "$.entities[1]")]  # بغداد inside وبغداد
    assert ctx.report.stats["prodigy"] == {"spans": 3, "misaligned_spans": 1}
    back, ctx = read(path)
    assert ctx.report.problems == []
    assert back == [sample()]


def test_proclitic_article_segmentation_aligns_a_span_after_the_clitic(tmp_path):
    text = "زار الوفد والرياض"
    doc = Document(id="d", text=text, entities=[Span(len("زار الوفد و"), len(text), "GPE", "T1", "الرياض")])
    path, ctx = write(tmp_path, [doc], segmentation="proclitic-article")
    assert [t["text"] for t in lines(path)[0]["tokens"]] == ["زار", "الوفد", "و", "الرياض"]
    assert (lines(path)[0]["spans"][0]["token_start"], lines(path)[0]["spans"][0]["token_end"]) == (3, 3)
    assert ctx.report.problems == []


def test_a_file_as_prodigy_saves_it_is_read(tmp_path):
    """Spans by token indices only, relations by last token only, Prodigy's own keys kept."""
    text = "زار محمد بن سلمان باريس"
    tokens = [{"text": t.text, "start": t.start, "end": t.end, "id": i, "ws": True}
              for i, t in enumerate(tokenize(text))]
    path = tmp_path / "prodigy.jsonl"
    path.write_text(json.dumps({
        "text": text, "tokens": tokens, "_input_hash": 12, "_task_hash": -3, "answer": "accept",
        "meta": {"source": "news"},
        "spans": [{"token_start": 1, "token_end": 3, "label": "PER"},
                  {"start": len("زار محمد بن سلمان "), "end": len(text), "label": "GPE", "token_start": 4,
                   "token_end": 4}],
        "relations": [{"head": 3, "child": 4, "label": "visited"}],
    }, ensure_ascii=False) + "\n", encoding="utf-8")
    docs, ctx = read(path)
    assert ctx.report.problems == []
    assert docs == [Document(
        id="prodigy-1", text=text, source="news",
        entities=[Span(len("زار "), len("زار محمد بن سلمان"), "PER", "s1", "محمد بن سلمان"),
                  Span(len("زار محمد بن سلمان "), len(text), "GPE", "s2", "باريس")],
        relations=[Relation("s1", "s2", "visited", "")],
        meta={"prodigy": {"_input_hash": 12, "_task_hash": -3, "answer": "accept"}})]
    again, _ = write(tmp_path, docs)
    task = lines(again)[0]
    assert (task["_input_hash"], task["answer"], task["meta"]["source"]) == (12, "accept", "news")


def test_bad_spans_and_relations_are_located(tmp_path):
    text = "زار محمد باريس"
    path = tmp_path / "bad.jsonl"
    records = [
        "{",
        {"spans": []},
        {"text": text, "meta": {"id": "d3"}, "spans": [
            {"start": len("زار "), "end": len("زار محمد"), "label": "PER", "id": "a"},
            {"start": 0, "end": 99, "label": "PER"},
            {"start": 0, "end": 3, "label": "PER", "text": "غير"},
            {"start": 0, "end": 3},
            {"token_start": 0, "token_end": 0, "label": "PER"},  # no tokens on the line
        ], "relations": [
            {"head_span": {"id": "a"}, "child_span": {"start": 9, "end": 14, "label": "GPE"}, "label": "r"},
            {"head": 7, "child": 1, "label": "r"},
            {"head": 1, "child": 1},
        ]},
    ]
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n"
                            for r in records), encoding="utf-8")
    docs, ctx = read(path)
    assert located(ctx) == [
        ("prodigy-invalid-line", 1, None, None),
        ("prodigy-invalid-line", 2, None, "$.text"),
        ("prodigy-bad-span", 3, "d3", "$.spans[1]"),
        ("prodigy-bad-span", 3, "d3", "$.spans[2].text"),
        ("prodigy-bad-span", 3, "d3", "$.spans[3]"),
        ("prodigy-bad-span", 3, "d3", "$.spans[4]"),
        ("prodigy-unknown-relation-argument", 3, "d3", "$.relations[0].child"),
        ("prodigy-unknown-relation-argument", 3, "d3", "$.relations[1].head"),
        ("prodigy-unknown-relation-argument", 3, "d3", "$.relations[2]"),
    ]
    assert [(d.id, [s.id for s in d.entities], d.relations) for d in docs] == [("d3", ["a"], [])]


def test_a_relation_to_a_span_the_document_lacks_is_reported_when_writing(tmp_path):
    doc = Document(id="d", text="زار محمد", entities=[Span(len("زار "), len("زار محمد"), "PER", "T1", "محمد")],
                   relations=[Relation("T9", "T1", "r", "R1")])
    path, ctx = write(tmp_path, [doc])
    assert located(ctx) == [("prodigy-unknown-relation-argument", None, "d", "$.relations[0]")]
    assert lines(path)[0]["relations"] == []
