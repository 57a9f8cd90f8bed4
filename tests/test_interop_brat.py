"""brat standoff: documents → brat folder → documents, the exact files written, and every located problem."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus_tools.artefacts import brat_type_names, ontology_to_brat_conf
from corpus_tools.errors import InputError
from corpus_tools.interop.brat import (
    CONF_FILE,
    DOCUMENTS_FILE,
    LABELS_FILE,
    VISUAL_FILE,
    file_stem,
    read_brat,
    write_brat,
)
from corpus_tools.interop.format import Context
from corpus_tools.interop.registry import formats, get_format
from corpus_tools.spans import Document, Relation, Span, make_span

# ------------------------------------------------------------------ the hand-written Arabic sample
P_SAID = "قال "
P_RLM_OPEN = P_SAID + "\u200f"  # RLM before the name
P_NAME = P_RLM_OPEN + "محمد بن سلمان"
P_RLM_CLOSE = P_NAME + "\u200f"  # RLM after it
P_FROM = P_RLM_CLOSE + " من "
P_MINISTRY = P_FROM + "وزارة "
P_FOREIGN = P_FROM + "وزارة الخارجية"
P_CRLF = P_FOREIGN + "\r\n"
P_IN = P_CRLF + "في "
P_CITY = P_IN + "بغـــداد"  # tatweel
P_SPACE = P_CITY + " "
P_EMOJI = P_SPACE + "😀"
TEXT = P_EMOJI + " اليوم"

SPANS = [  # (id, start, end, label), in no particular order
    ("gpe", len(P_IN), len(P_CITY), "GPE"),
    ("per", len(P_RLM_OPEN), len(P_NAME), "PER"),
    ("org", len(P_FROM), len(P_FOREIGN), "ORG"),
    ("rlm", len(P_SAID), len(P_RLM_CLOSE), "شخص"),
    ("cross", len(P_MINISTRY), len(P_CITY), "X.Y"),
    ("gov", len(P_MINISTRY), len(P_FOREIGN), "ORG.Gov"),
    ("emoji", len(P_SPACE), len(P_EMOJI), "EMOJI"),
    ("overlap", len(P_RLM_OPEN + "محمد بن "), len(P_FROM + "وزارة"), "MISC"),
]
RELATIONS = [("r2", "org", "gpe", "PHYS.Located"), ("r1", "per", "org", "ORG-AFF.Employment")]

EXPECTED_ANN = (
    f"T1\t___ {len(P_SAID)} {len(P_RLM_CLOSE)}\t\u200fمحمد بن سلمان\u200f\n"
    f"T2\tPER {len(P_RLM_OPEN)} {len(P_NAME)}\tمحمد بن سلمان\n"
    f"T3\tMISC {len(P_RLM_OPEN + 'محمد بن ')} {len(P_FROM + 'وزارة')}\tسلمان\u200f من وزارة\n"
    f"T4\tORG {len(P_FROM)} {len(P_FOREIGN)}\tوزارة الخارجية\n"
    f"T5\tORG_Gov {len(P_MINISTRY)} {len(P_FOREIGN)}\tالخارجية\n"
    f"T6\tX_Y {len(P_MINISTRY)} {len(P_FOREIGN)};{len(P_CRLF)} {len(P_CITY)}\tالخارجية في بغـــداد\n"
    f"T7\tGPE {len(P_IN)} {len(P_CITY)}\tبغـــداد\n"
    f"T8\tEMOJI {len(P_SPACE)} {len(P_EMOJI)}\t😀\n"
    "R1\tORG-AFF_Employment Arg1:T2 Arg2:T4\n"
    "R2\tPHYS_Located Arg1:T4 Arg2:T7\n"
)


def sample_document() -> Document:
    spans = [make_span(TEXT, start, end, label, span_id) for span_id, start, end, label in SPANS]
    relations = [Relation(head, tail, label, rel_id) for rel_id, head, tail, label in RELATIONS]
    return Document("news/2024:01", TEXT, spans, relations, title="عنوان", source="وكالة",
                    dateline={"place": "بغداد"}, meta={"k": [1, "٢"]})


def entity_keys(doc: Document) -> Counter:
    return Counter((s.start, s.end, s.label, s.text) for s in doc.entities)


def relation_keys(doc: Document) -> Counter:
    by_id = {s.id: (s.start, s.end, s.label) for s in doc.entities}
    return Counter((by_id[r.head], by_id[r.tail], r.label) for r in doc.relations)


def write(docs: list[Document], folder: Path, **context: object) -> Context:
    folder.mkdir(parents=True, exist_ok=True)
    ctx = Context(**context)  # type: ignore[arg-type]
    write_brat(docs, folder, ctx)
    return ctx


def read(folder: Path) -> tuple[list[Document], Context]:
    ctx = Context()
    return list(read_brat(folder, ctx)), ctx


def test_the_sample_is_written_as_brat_writes_it(tmp_path):
    ctx = write([sample_document()], tmp_path)
    assert ctx.report.problems == []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [CONF_FILE, DOCUMENTS_FILE, LABELS_FILE, VISUAL_FILE, "news_2024_01.ann", "news_2024_01.txt"])
    assert (tmp_path / "news_2024_01.txt").read_bytes() == TEXT.encode("utf-8")  # CRLF, RLM, tatweel kept
    assert (tmp_path / "news_2024_01.ann").read_bytes().decode("utf-8") == EXPECTED_ANN
    assert json.loads((tmp_path / LABELS_FILE).read_text(encoding="utf-8")) == {
        "___": "شخص", "ORG_Gov": "ORG.Gov", "X_Y": "X.Y", "ORG-AFF_Employment": "ORG-AFF.Employment",
        "PHYS_Located": "PHYS.Located"}
    conf = (tmp_path / CONF_FILE).read_text(encoding="utf-8")
    assert "[entities]\n# ___ = شخص\n___\nPER\nMISC\nORG\n# ORG_Gov = ORG.Gov\nORG_Gov\n" in conf
    assert "# PHYS_Located = PHYS.Located\nPHYS_Located\tArg1:<ENTITY>, Arg2:<ENTITY>\n" in conf
    visual = (tmp_path / VISUAL_FILE).read_text(encoding="utf-8").split("\n")
    assert visual[visual.index("[labels]") + 1:visual.index("[drawing]")] == [
        "___ | شخص", "ORG_Gov | ORG.Gov", "X_Y | X.Y", "ORG-AFF_Employment | ORG-AFF.Employment",
        "PHYS_Located | PHYS.Located", ""]


def test_the_sample_reads_back_exactly(tmp_path):
    write([sample_document()], tmp_path)
    docs, ctx = read(tmp_path)
    assert ctx.report.problems == []
    [doc] = docs
    assert (doc.id, doc.text, doc.title, doc.source, doc.dateline, doc.meta) == (
        "news/2024:01", TEXT, "عنوان", "وكالة", {"place": "بغداد"}, {"k": [1, "٢"]})
    # ids renumbered T1.. in (start, end, label) order; compared with the spans as written above
    assert [(s.id, s.start, s.end, s.label, s.text) for s in doc.entities] == [
        ("T1", len(P_SAID), len(P_RLM_CLOSE), "شخص", TEXT[len(P_SAID):len(P_RLM_CLOSE)]),
        ("T2", len(P_RLM_OPEN), len(P_NAME), "PER", "محمد بن سلمان"),
        ("T3", len(P_RLM_OPEN + "محمد بن "), len(P_FROM + "وزارة"), "MISC", "سلمان\u200f من وزارة"),
        ("T4", len(P_FROM), len(P_FOREIGN), "ORG", "وزارة الخارجية"),
        ("T5", len(P_MINISTRY), len(P_FOREIGN), "ORG.Gov", "الخارجية"),
        ("T6", len(P_MINISTRY), len(P_CITY), "X.Y", "الخارجية\r\nفي بغـــداد"),
        ("T7", len(P_IN), len(P_CITY), "GPE", "بغـــداد"),
        ("T8", len(P_SPACE), len(P_EMOJI), "EMOJI", "😀"),
    ]
    assert [(r.id, r.head, r.tail, r.label) for r in doc.relations] == [
        ("R1", "T2", "T4", "ORG-AFF.Employment"), ("R2", "T4", "T7", "PHYS.Located")]


def test_spans_holding_line_breaks_are_cut_into_fragments_with_their_extent_kept(tmp_path):
    p1 = "أ"
    p2 = p1 + "\n"
    p3 = p2 + "ب"
    p4 = p3 + "\r\n"
    p5 = p4 + "ج"
    p6 = p5 + "\u2028"
    text = p6 + "د"
    spans = [make_span(text, 0, len(p5), "L", "all"), make_span(text, len(p1), len(p3), "L", "lead"),
             make_span(text, len(p2), len(p4), "L", "trail"), make_span(text, len(p1), len(p2), "L", "nl"),
             make_span(text, len(p4), len(text), "L", "ls")]
    write([Document("d", text, spans)], tmp_path)
    assert (tmp_path / "d.ann").read_text(encoding="utf-8").split("\n") == [
        f"T1\tL 0 {len(p1)};{len(p2)} {len(p3)};{len(p4)} {len(p5)}\tأ ب ج",
        f"T2\tL {len(p1)} {len(p1)};{len(p2)} {len(p2)}\t ",
        f"T3\tL {len(p1)} {len(p1)};{len(p2)} {len(p3)}\t ب",
        f"T4\tL {len(p2)} {len(p3)};{len(p4)} {len(p4)}\tب ",
        f"T5\tL {len(p4)} {len(p5)};{len(p6)} {len(text)}\tج د",
        "",
    ]
    docs, ctx = read(tmp_path)
    assert ctx.report.problems == []
    assert entity_keys(docs[0]) == Counter((s.start, s.end, "L", text[s.start:s.end]) for s in spans)


# ------------------------------------------------------------------ hypothesis round trip
LABELS = ["PER", "ORG.Gov", "ORG_Gov", "ORG_Gov_2", "شخص", "A B", "1st", "x-y", "ـ"]
ID_PREFIXES = ["doc/", "وثيقة-", "a b.", "x"]


@st.composite
def documents(draw):
    prefix = draw(st.sampled_from(ID_PREFIXES))
    docs = []
    for number in range(draw(st.integers(1, 3))):
        text = draw(st.text(alphabet="ابت ـ\u064e😀\r\n\u200f\u2028\x85\t", max_size=40))
        n = draw(st.integers(0, 6))
        spans = []
        for i in range(n):
            start = draw(st.integers(0, len(text)))
            end = draw(st.integers(start, len(text)))
            spans.append(make_span(text, start, end, draw(st.sampled_from(LABELS)), f"s{i}"))
        relations = []
        if spans:
            for i in range(draw(st.integers(0, 3))):
                head, tail = draw(st.sampled_from(spans)), draw(st.sampled_from(spans))
                relations.append(Relation(head.id, tail.id, draw(st.sampled_from(LABELS)), f"r{i}"))
        docs.append(Document(f"{prefix}{number}", text, spans, relations,
                             title=draw(st.text(alphabet="عن ٢\n", max_size=5))))
    return docs


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(docs=documents())
def test_documents_to_brat_to_documents_is_exact_modulo_ids(tmp_path_factory, docs):
    folder = tmp_path_factory.mktemp("brat")
    assert write(docs, folder).report.problems == []
    back, ctx = read(folder)
    assert ctx.report.problems == []
    assert sorted(d.id for d in back) == sorted(d.id for d in docs)
    by_id = {d.id: d for d in back}
    for doc in docs:
        got = by_id[doc.id]
        assert (got.text, got.title) == (doc.text, doc.title)
        # the expectation: every span by offsets and label (its text cut from the text), every relation by its
        # arguments' offsets and labels; each written independently of the writer's numbering
        assert entity_keys(got) == Counter((s.start, s.end, s.label, doc.text[s.start:s.end]) for s in doc.entities)
        spans = {s.id: (s.start, s.end, s.label) for s in doc.entities}
        assert relation_keys(got) == Counter((spans[r.head], spans[r.tail], r.label) for r in doc.relations)
        assert [s.id for s in got.entities] == [f"T{i}" for i in range(1, len(doc.entities) + 1)]


# ------------------------------------------------------------------ writing: names, problems
@pytest.mark.parametrize(("doc_id", "stem"), [
    ("ar-2024-001", "ar-2024-001"),
    ("news/2024:01", "news_2024_01"),
    ("وثيقة", "_____"),
    (".hidden", "_hidden"),
    ("", "_"),
    ("con", "_con"),
    ("NUL.x", "_NUL.x"),
    ("a" * 200, "a" * 150),
])
def test_file_names_are_made_safe(doc_id, stem):
    assert file_stem(doc_id) == stem


def test_ids_giving_one_file_name_are_refused(tmp_path):
    docs = [Document("a/b", "نص"), Document("a_b", "نص"), Document("A:B", "نص"), Document("c", "نص")]
    ctx = write(docs, tmp_path)
    assert [(p.code, p.task_id) for p in ctx.report.problems] == [
        ("brat-file-name-clash", "a_b"), ("brat-file-name-clash", "A:B")]
    assert sorted(p.name for p in tmp_path.glob("*.txt")) == ["a_b.txt", "c.txt"]
    docs_back, _ = read(tmp_path)
    assert [d.id for d in docs_back] == ["a/b", "c"]


def test_what_cannot_be_written_is_reported(tmp_path):
    text = "في بغداد"
    docs = [
        Document("d1", text, [make_span(text, len("في "), len(text), "GPE", "g"),
                              Span(len(text), len(text) + 3, "GPE", "bad", "")],
                 [Relation("g", "missing", "R", "r1"), Relation("g", "g", "R", "r2")]),
        Document("d2", "\ud800نص"),
    ]
    ctx = write(docs, tmp_path)
    assert [(p.code, p.file, p.task_id, p.annotation_id) for p in ctx.report.problems] == [
        ("brat-bad-offsets", "d1.ann", "d1", "bad"),
        ("brat-relation-dangling", "d1.ann", "d1", "r1"),
        ("brat-unencodable-text", None, "d2", None),
    ]
    assert (tmp_path / "d1.ann").read_text(encoding="utf-8") == (
        f"T1\tGPE {len('في ')} {len(text)}\tبغداد\nR1\tR Arg1:T1 Arg2:T1\n")
    assert not (tmp_path / "d2.txt").exists()


def test_labels_holding_lone_surrogates_come_back_exactly(tmp_path):
    text = "في بغداد"
    label = "GPE\udc80"
    doc = Document("d", text, [make_span(text, len("في "), len(text), label, "g")],
                   [Relation("g", "g", "R\ud800", "r")], title="\udfff")
    assert write([doc], tmp_path).report.problems == []
    assert "GPE_" in (tmp_path / CONF_FILE).read_text(encoding="utf-8")
    [back], ctx = read(tmp_path)
    assert ctx.report.problems == []
    assert ([s.label for s in back.entities], [r.label for r in back.relations], back.title) == (
        [label], ["R\ud800"], "\udfff")


def test_with_an_ontology_the_conf_and_names_are_the_ontologys(tmp_path, ontology):
    text = "محمد في وزارة"
    doc = Document("d", text, [make_span(text, 0, len("محمد"), "PER", "p"),
                               make_span(text, len("محمد في "), len(text), "ORG", "o")],
                   [Relation("p", "o", "ORG-AFF.Employment", "r")])
    write([doc], tmp_path, ontology=ontology)
    assert (tmp_path / CONF_FILE).read_text(encoding="utf-8") == ontology_to_brat_conf(ontology)
    assert "PER\tbgColor:" + ontology.entity("PER").color in (tmp_path / VISUAL_FILE).read_text(encoding="utf-8")
    name = brat_type_names(ontology)["ORG-AFF.Employment"]
    assert (tmp_path / "d.ann").read_text(encoding="utf-8").endswith(f"R1\t{name} Arg1:T1 Arg2:T2\n")
    [back], _ = read(tmp_path)
    assert [r.label for r in back.relations] == ["ORG-AFF.Employment"]


def test_a_safe_label_whose_name_is_taken_gets_its_own(tmp_path):
    text = "اب"
    doc = Document("d", text, [make_span(text, 0, 1, "X.Y", "a"), make_span(text, 1, 2, "X_Y", "b")])
    write([doc], tmp_path)
    assert (tmp_path / "d.ann").read_text(encoding="utf-8") == "T1\tX_Y 0 1\tا\nT2\tX_Y_2 1 2\tب\n"
    assert json.loads((tmp_path / LABELS_FILE).read_text(encoding="utf-8")) == {"X_Y": "X.Y", "X_Y_2": "X_Y"}
    [back], _ = read(tmp_path)
    assert [s.label for s in back.entities] == ["X.Y", "X_Y"]


# ------------------------------------------------------------------ reading foreign brat folders
A_TEXT = "قال محمد في بغداد\nوزارة الخارجية"
AT_NAME = len("قال ")
AT_CITY = len("قال محمد في ")
AT_MINISTRY = len("قال محمد في بغداد\n")


def brat_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_bytes(A_TEXT.encode("utf-8"))
    lines = [
        f"T1\tPER {AT_NAME} {AT_NAME + len('محمد')}\tمحمد",  # 1
        f"T2\tGPE {AT_CITY} {AT_CITY + len('بغداد')}\tبغداد",  # 2
        f"T3\tORG 0 {len('قال')};{AT_CITY} {AT_CITY + len('بغداد')}\tقال بغداد",  # 3 discontinuous
        "E1\tMove:T2 Agent:T1",  # 4
        "A1\tNegated T1",  # 5
        "M1\tSpeculation T1",  # 6
        "N1\tReference T2 Wikipedia:123\tبغداد",  # 7
        "*\tEquiv T1 T2",  # 8
        "#1\tAnnotatorNotes T1\tملاحظة",  # 9
        "R1\tLocated Arg1:T1 Arg2:T9",  # 10
        "R2\tLocated Arg1:T1 Arg2:T3",  # 11
        "R3\tLocated Arg1:T1 Arg2:E1",  # 12
        f"T4\tPER {AT_NAME} {AT_NAME + len('محمد')}\tاحمد",  # 13 text mismatch (kept)
        f"T5\tPER {AT_NAME} 99\tx",  # 14 outside the text
        f"T1\tPER 0 {len('قال')}\tقال",  # 15 duplicate id
        "garbage line",  # 16
        "X1\tfoo bar",  # 17
        "R4\tLocated Arg1:T1",  # 18
        f"T6\tX_Y {AT_CITY} {AT_CITY + len('بغداد')};"  # 19 cut at the newline, as brat does
        f"{AT_MINISTRY} {AT_MINISTRY + len('وزارة')}\tبغداد وزارة",
        "R5\tLocated Arg2:T2 Arg1:T1",  # 20
        "",
        f"T7\tORG {AT_MINISTRY} {len(A_TEXT)}\tوزارة الخارجية",  # 22
    ]
    (folder / "a.ann").write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8"))
    (folder / "b.ann").write_text("T1\tPER 0 1\tx\n", encoding="utf-8")
    (folder / "c.txt").write_text("نص بلا تعليقات", encoding="utf-8")
    (folder / "d.txt").write_bytes(b"ok\xff")
    (folder / "d.ann").write_text("", encoding="utf-8")
    (folder / "sub" / "e.txt").write_text("عمان", encoding="utf-8")
    (folder / "sub" / "e.ann").write_text("T1\tGPE 0 4\tعمان\n", encoding="utf-8")
    (folder / ".hidden.txt").write_text("x", encoding="utf-8")
    (folder / LABELS_FILE).write_text(json.dumps({"X_Y": "X.Y"}), encoding="utf-8")
    return folder


def test_a_foreign_brat_folder_is_read_with_every_problem_located(tmp_path):
    folder = brat_folder(tmp_path)
    docs, ctx = read(folder)
    a = str(folder / "a.ann")
    assert [(p.code, p.file, p.line, p.task_id, p.annotation_id) for p in ctx.report.problems] == [
        ("brat-discontinuous-span", a, 3, "a", "T3"),
        ("brat-event", a, 4, "a", "E1"),
        ("brat-attribute", a, 5, "a", "A1"),
        ("brat-attribute", a, 6, "a", "M1"),
        ("brat-normalization", a, 7, "a", "N1"),
        ("brat-equivalence", a, 8, "a", "*"),
        ("brat-note", a, 9, "a", "#1"),
        ("brat-span-text-mismatch", a, 13, "a", "T4"),
        ("brat-bad-offsets", a, 14, "a", "T5"),
        ("brat-duplicate-id", a, 15, "a", "T1"),
        ("brat-bad-line", a, 16, "a", None),
        ("brat-bad-line", a, 17, "a", "X1"),
        ("brat-bad-line", a, 18, "a", "R4"),
        ("brat-relation-missing-argument", a, 10, "a", "R1"),
        ("brat-relation-unsupported-argument", a, 11, "a", "R2"),
        ("brat-relation-unsupported-argument", a, 12, "a", "R3"),
        ("brat-missing-text", str(folder / "b.ann"), None, "b", None),
        ("brat-not-utf8", str(folder / "d.txt"), None, "d", None),
    ]
    assert {p.code: p.severity for p in ctx.report.problems}["brat-event"] == "warning"
    assert [p.byte_offset for p in ctx.report.problems if p.code == "brat-not-utf8"] == [len(b"ok")]
    assert [d.id for d in docs] == ["a", "c", "sub/e"]
    a_doc, c_doc, e_doc = docs
    assert a_doc.text == A_TEXT
    assert [(s.id, s.start, s.end, s.label, s.text) for s in a_doc.entities] == [
        ("T1", AT_NAME, AT_NAME + len("محمد"), "PER", "محمد"),
        ("T2", AT_CITY, AT_CITY + len("بغداد"), "GPE", "بغداد"),
        ("T4", AT_NAME, AT_NAME + len("محمد"), "PER", "محمد"),  # the offsets win
        ("T6", AT_CITY, AT_MINISTRY + len("وزارة"), "X.Y", "بغداد\nوزارة"),  # fragments joined, label mapped
        ("T7", AT_MINISTRY, len(A_TEXT), "ORG", "وزارة الخارجية"),
    ]
    assert [(r.id, r.head, r.tail, r.label) for r in a_doc.relations] == [("R5", "T1", "T2", "Located")]
    assert (c_doc.text, c_doc.entities, c_doc.relations) == ("نص بلا تعليقات", [], [])
    assert [(s.start, s.end, s.label) for s in e_doc.entities] == [(0, len("عمان"), "GPE")]


@pytest.mark.parametrize(("gap", "joined"), [
    ("\n", True), (" \r\n ", True), ("\t", True), ("\u2029", True), ("", True),
    (" ", False), ("  ", False), (" و ", False),
])
def test_fragments_are_one_span_only_across_what_brat_cuts_at(tmp_path, gap, joined):
    text = "أحمد" + gap + "علي"
    (tmp_path / "d.txt").write_text(text, encoding="utf-8", newline="")
    offsets = f"0 {len('أحمد')};{len('أحمد' + gap)} {len(text)}"
    (tmp_path / "d.ann").write_text(f"T1\tPER {offsets}\tأحمد علي\n", encoding="utf-8")
    [doc], ctx = read(tmp_path)
    if joined:
        assert ([(s.start, s.end, s.text) for s in doc.entities], ctx.report.problems) == ([(0, len(text), text)], [])
    else:
        assert ([p.code for p in ctx.report.problems], doc.entities) == (["brat-discontinuous-span"], [])


def test_a_bad_sidecar_is_reported_and_the_folder_still_read(tmp_path):
    (tmp_path / "x.txt").write_text("نص", encoding="utf-8")
    (tmp_path / LABELS_FILE).write_text("[1]", encoding="utf-8")
    (tmp_path / DOCUMENTS_FILE).write_text('{"file": "x", "id": "doc-x"}\nnot json\n{"file": 3}\n', encoding="utf-8")
    docs, ctx = read(tmp_path)
    assert [(p.code, p.file, p.line) for p in ctx.report.problems] == [
        ("brat-bad-sidecar", str(tmp_path / LABELS_FILE), None),
        ("brat-bad-sidecar", str(tmp_path / DOCUMENTS_FILE), 2),
        ("brat-bad-sidecar", str(tmp_path / DOCUMENTS_FILE), 3),
    ]
    assert [d.id for d in docs] == ["doc-x"]


def test_a_path_that_is_not_a_folder_cannot_be_read(tmp_path):
    (tmp_path / "x.ann").write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="is not a folder"):
        list(read_brat(tmp_path / "x.ann", Context()))


def test_brat_is_registered_both_ways_as_a_folder():
    fmt = formats()["brat"]
    assert (fmt.output, fmt.directions) == ("folder", "read/write")
    assert get_format("brat", "read") is get_format("brat", "write") is fmt
