"""doccano JSONL both ways: exact round trips (UTF-16 and code-point offsets), doccano's own export read, the older
``label`` form, and every problem located by line, document id and JSON path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from interop_strategies import RLM, TATWEEL, corpora, utf16_length

from corpus_tools.errors import InputError
from corpus_tools.interop.doccano import read_doccano, write_doccano
from corpus_tools.interop.format import Context
from corpus_tools.interop.registry import formats, get_format
from corpus_tools.spans import Document, Relation, Span

PROFILE = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                           HealthCheck.function_scoped_fixture])


def write(tmp_path: Path, documents: list[Document], **options: str) -> tuple[Path, Context]:
    path = tmp_path / "out.jsonl"
    path.unlink(missing_ok=True)
    ctx = Context(options=options)
    write_doccano(documents, path, ctx)
    return path, ctx


def read(path: Path, **options: str) -> tuple[list[Document], Context]:
    ctx = Context(options=options)
    return list(read_doccano(path, ctx)), ctx


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def located(ctx: Context) -> list[tuple]:
    return [(p.code, p.line, p.task_id, p.json_path) for p in ctx.report.problems]


def source_file(tmp_path: Path, records: list[object], name: str = "export.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n"
                            for r in records), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------- round trips


@PROFILE
@given(corpora())
def test_round_trip_is_exact_and_offsets_are_utf16_units(tmp_path, corpus):
    path, ctx = write(tmp_path, [e.document for e in corpus])
    assert ctx.report.problems == []
    for expected, record in zip(corpus, lines(path), strict=True):
        doc = expected.document
        before = [utf16_length(doc.text[:s.start]) for s in doc.entities]
        want = [[b, b + utf16_length(expected.pieces[s.id]), s.label]
                for b, s in zip(before, doc.entities, strict=True)]
        assert [[e["start_offset"], e["end_offset"], e["label"]] for e in record["entities"]] == want
        assert record["document_id"] == doc.id
    back, ctx = read(path)
    assert ctx.report.problems == []
    assert len(back) == len(corpus)
    for expected, got in zip(corpus, back, strict=True):
        doc = expected.document
        assert (got.id, got.text, got.title, got.source, got.lang, got.dateline, got.meta) == (
            doc.id, doc.text, doc.title, doc.source, doc.lang, doc.dateline, doc.meta)
        assert [(s.id, s.label, s.text) for s in got.entities] == [(s.id, s.label, expected.pieces[s.id])
                                                                  for s in doc.entities]
        assert [(s.start, s.end) for s in got.entities] == [(s.start, s.end) for s in doc.entities]
        assert got.relations == doc.relations


@PROFILE
@given(corpora())
def test_round_trip_with_code_point_offsets_is_exact(tmp_path, corpus):
    path, _ = write(tmp_path, [e.document for e in corpus], offsets="code-points")
    for expected, record in zip(corpus, lines(path), strict=True):
        assert [e["start_offset"] for e in record["entities"]] == [s.start for s in expected.document.entities]
    back, ctx = read(path, offsets="code-points")
    assert ctx.report.problems == []
    assert back == [e.document for e in corpus]


# ---------------------------------------------------------------------------- hand-written Arabic

TEXT = f"😀 قال {RLM}محمد بن سلمان{RLM} في الريـاض\r\nإن 🇫🇷 شركة أرامكو ستعمل"


def sample() -> Document:
    per_start = len("😀 قال ")
    per_end = per_start + len(f"{RLM}محمد بن سلمان{RLM}")
    gpe_start = len(f"😀 قال {RLM}محمد بن سلمان{RLM} في ")
    org_start = len(f"😀 قال {RLM}محمد بن سلمان{RLM} في الريـاض\r\nإن 🇫🇷 شركة ")
    return Document(
        id="art-7", text=TEXT, title="عنوان", source="الوطن", meta={"batch": 3},
        entities=[Span(per_start, per_end, "PER", "T1", f"{RLM}محمد بن سلمان{RLM}"),
                  Span(gpe_start, gpe_start + len("الريـاض"), "GPE", "T2", "الريـاض"),
                  Span(org_start, org_start + len("أرامكو"), "ORG", "T3", "أرامكو")],
        relations=[Relation("T1", "T2", "located_in", "R1"), Relation("T3", "T2", "located_in", "")],
    )


def test_hand_written_sample_is_written_as_doccano_counts_it(tmp_path):
    path, ctx = write(tmp_path, [sample()])
    assert ctx.report.problems == []
    emoji = len("😀".encode("utf-16-le")) // 2 - len("😀")  # one more unit before everything after the emoji
    flag = 2  # 🇫🇷: two regional indicators, each two UTF-16 units
    per_start = len("😀 قال ") + emoji
    gpe_start = len(f"😀 قال {RLM}محمد بن سلمان{RLM} في ") + emoji
    org_start = len(f"😀 قال {RLM}محمد بن سلمان{RLM} في الريـاض\r\nإن 🇫🇷 شركة ") + emoji + flag
    assert lines(path) == [{
        "id": 1, "text": TEXT,
        "entities": [
            {"id": 1, "label": "PER", "start_offset": per_start,
             "end_offset": per_start + len(f"{RLM}محمد بن سلمان{RLM}")},
            {"id": 2, "label": "GPE", "start_offset": gpe_start, "end_offset": gpe_start + len("الريـاض")},
            {"id": 3, "label": "ORG", "start_offset": org_start, "end_offset": org_start + len("أرامكو")},
        ],
        "relations": [{"id": 1, "from_id": 1, "to_id": 2, "type": "located_in"},
                      {"id": 2, "from_id": 3, "to_id": 2, "type": "located_in"}],
        "document_id": "art-7", "span_ids": ["T1", "T2", "T3"], "relation_ids": ["R1", ""],
        "title": "عنوان", "source": "الوطن", "lang": "ar", "dateline": None, "meta": {"batch": 3},
    }]
    back, ctx = read(path)
    assert ctx.report.problems == []
    assert [(s.text, s.start) for s in back[0].entities] == [
        (f"{RLM}محمد بن سلمان{RLM}", len("😀 قال ")), ("الريـاض", len(f"😀 قال {RLM}محمد بن سلمان{RLM} في ")),
        ("أرامكو", len(f"😀 قال {RLM}محمد بن سلمان{RLM} في الريـاض\r\nإن 🇫🇷 شركة "))]
    assert back == [sample()]
    assert TATWEEL in back[0].entities[1].text


def test_a_doccano_export_is_read_with_its_ids_and_its_other_keys_kept(tmp_path):
    text = "😀 زار محمد باريس"
    start = utf16_length("😀 زار ")
    path = source_file(tmp_path, [{
        "id": 41, "text": text, "Comments": [], "source_file": "a.txt",
        "entities": [{"id": 7, "label": "PER", "start_offset": start, "end_offset": start + len("محمد")},
                     {"id": 9, "label": "GPE", "start_offset": start + len("محمد "),
                      "end_offset": start + len("محمد باريس")}],
        "relations": [{"id": 3, "from_id": 7, "to_id": 9, "type": "visited"}],
    }])
    docs, ctx = read(path)
    assert ctx.report.problems == []
    assert docs == [Document(
        id="41", text=text,
        entities=[Span(len("😀 زار "), len("😀 زار محمد"), "PER", "7", "محمد"),
                  Span(len("😀 زار محمد "), len(text), "GPE", "9", "باريس")],
        relations=[Relation("7", "9", "visited", "3")],
        meta={"doccano": {"Comments": [], "source_file": "a.txt"}})]
    again, _ = write(tmp_path, docs)
    record = lines(again)[0]
    assert (record["Comments"], record["source_file"], record["document_id"]) == ([], "a.txt", "41")
    assert "meta" not in record


def test_the_older_label_form_is_read(tmp_path):
    path = source_file(tmp_path, [{"text": "قال الرئيس عباس", "label": [[len("قال الرئيس "), len("قال الرئيس عباس"),
                                                                       "PER"]]}], name="old.jsonl")
    docs, ctx = read(path)
    assert ctx.report.problems == []
    assert docs == [Document(id="old-1", text="قال الرئيس عباس",
                             entities=[Span(len("قال الرئيس "), len("قال الرئيس عباس"), "PER", "1", "عباس")])]


def test_a_bom_and_crlf_line_ends_are_read(tmp_path):
    path = tmp_path / "bom.jsonl"
    record = json.dumps({"id": 1, "text": "زار محمد", "entities": [
        {"id": 1, "label": "PER", "start_offset": len("زار "), "end_offset": len("زار محمد")}]}, ensure_ascii=False)
    path.write_bytes(b"\xef\xbb\xbf" + record.encode() + b"\r\n\r\n" + record.replace('"id": 1,', '"id": 2,', 1)
                     .encode() + b"\r\n")
    docs, ctx = read(path)
    assert ctx.report.problems == []
    assert [(d.id, d.entities[0].text) for d in docs] == [("1", "محمد"), ("2", "محمد")]


# ---------------------------------------------------------------------------- problems


def test_bad_lines_entities_and_relations_are_located(tmp_path):
    text = "😀 زار محمد"
    start = utf16_length("😀 زار ")
    path = source_file(tmp_path, [
        "not json",
        "[1, 2]",
        {"id": 3, "entities": []},
        {"id": 4, "text": text, "entities": [
            {"id": 1, "label": "PER", "start_offset": start, "end_offset": start + len("محمد")},
            {"id": 2, "label": "PER", "start_offset": 1, "end_offset": 5},  # inside the emoji's surrogate pair
            {"id": 3, "label": "PER", "start_offset": start, "end_offset": 99},
            {"id": 4, "label": "PER", "start_offset": 5, "end_offset": 5},
            {"id": 1, "label": "GPE", "start_offset": 0, "end_offset": 2},
            {"id": 6, "label": "", "start_offset": 0, "end_offset": 2},
            "PER",
        ], "relations": [
            {"id": 1, "from_id": 1, "to_id": 2, "type": "r"},
            {"id": 2, "from_id": 8, "to_id": 1, "type": "r"},
            {"id": 3, "from_id": 1, "type": "r"},
        ]},
    ])
    docs, ctx = read(path)
    assert located(ctx) == [
        ("doccano-invalid-line", 1, None, None),
        ("doccano-invalid-line", 2, None, None),
        ("doccano-invalid-line", 3, None, "$.text"),
        ("doccano-bad-offset", 4, "4", "$.entities[1]"),
        ("doccano-bad-offset", 4, "4", "$.entities[2]"),
        ("doccano-bad-offset", 4, "4", "$.entities[3]"),
        ("doccano-bad-entity", 4, "4", "$.entities[4].id"),
        ("doccano-bad-entity", 4, "4", "$.entities[5]"),
        ("doccano-bad-entity", 4, "4", "$.entities[6]"),
        ("doccano-unknown-relation-argument", 4, "4", "$.relations[0].to_id"),
        ("doccano-unknown-relation-argument", 4, "4", "$.relations[1].from_id"),
        ("doccano-bad-relation", 4, "4", "$.relations[2]"),
    ]
    assert all(p.file == str(path) for p in ctx.report.problems)
    assert [(d.id, [s.text for s in d.entities], d.relations) for d in docs] == [("4", ["محمد"], [])]


def test_a_relation_to_a_span_the_document_lacks_is_reported_when_writing(tmp_path):
    doc = Document(id="d", text="زار محمد", entities=[Span(len("زار "), len("زار محمد"), "PER", "T1", "محمد")],
                   relations=[Relation("T1", "T9", "r", "R1")])
    path, ctx = write(tmp_path, [doc])
    assert located(ctx) == [("doccano-unknown-relation-argument", None, "d", "$.relations[0]")]
    assert lines(path)[0]["relations"] == []


def test_an_unknown_offsets_option_is_refused(tmp_path):
    with pytest.raises(InputError, match="offsets"):
        write(tmp_path, [], offsets="graphemes")


def test_the_registry_has_doccano_and_prodigy_both_ways():
    assert {"doccano", "prodigy"} <= set(formats())
    for name in ("doccano", "prodigy"):
        assert get_format(name, "read").name == get_format(name, "write").name == name


def test_a_line_that_is_not_utf8_is_located_and_a_missing_file_cannot_be_read(tmp_path):
    path = tmp_path / "latin1.jsonl"
    good = json.dumps({"id": 2, "text": "نص"}, ensure_ascii=False).encode()
    path.write_bytes(b'{"id": 1, "text": "caf\xe9"}\n' + good + b"\n")
    docs, ctx = read(path)
    assert located(ctx) == [("doccano-invalid-line", 1, None, None)]
    assert [d.id for d in docs] == ["2"]
    with pytest.raises(InputError, match="cannot read"):
        read(tmp_path / "missing.jsonl")
