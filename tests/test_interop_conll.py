"""The conll format: reading (nested columns, BIOES, BOM, CRLF, bidi marks, empty tokens, orphan I-, files
without sentence breaks), writing (label-free tokens, nested spans in extra columns) and round trips compared
with an independent expectation (word widening from tests/bio_reference.py, tokens split at the separators)."""

from __future__ import annotations

import re
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from bio_reference import word_widened
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus_tools.errors import InputError
from corpus_tools.interop.conll import FORMAT, read_conll, write_conll
from corpus_tools.interop.format import Context
from corpus_tools.interop.registry import get_format
from corpus_tools.spans import Document, Relation, Span, make_span, tokenize


def read(tmp_path: Path, data: str | bytes, name: str = "sample.txt", **options: str
         ) -> tuple[list[Document], Context]:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    ctx = Context(options=options)
    return list(read_conll(path, ctx)), ctx


def write(tmp_path: Path, docs: list[Document], **options: str) -> tuple[str, Context]:
    path = tmp_path / "out.conll"
    ctx = Context(options=options)
    write_conll(docs, path, ctx)
    return path.read_bytes().decode("utf-8"), ctx


def where(ctx: Context) -> list[tuple[str, int | None]]:
    return [(p.code, p.line) for p in ctx.report.problems]


def entities(doc: Document) -> list[tuple[int, int, str]]:
    for span in doc.entities:
        assert doc.text[span.start:span.end] == span.text
    return [(s.start, s.end, s.label) for s in doc.entities]


# -- reading --------------------------------------------------------------------------------------------

def test_the_format_is_registered_both_ways_as_a_file():
    assert get_format("conll", "read") is FORMAT and get_format("conll", "write") is FORMAT
    assert (FORMAT.reader, FORMAT.writer, FORMAT.output) == (read_conll, write_conll, "file")
    assert FORMAT.directions == "read/write"


def test_wojood_tag_columns_are_nested_entities(tmp_path):
    docs, ctx = read(tmp_path, "قال O\nرئيس B-OCC\nبلدية I-OCC B-ORG\nطولكرم I-OCC I-ORG B-GPE\n. O\n")
    [doc] = docs
    assert doc.text == "قال رئيس بلدية طولكرم ."
    start = len("قال ")
    end = len("قال رئيس بلدية طولكرم")
    assert entities(doc) == [(start, end, "OCC"), (len("قال رئيس "), end, "ORG"), (len("قال رئيس بلدية "), end, "GPE")]
    assert [s.id for s in doc.entities] == ["e1", "e2", "e3"]
    assert where(ctx) == []


def test_a_column_is_not_a_fixed_level_an_inside_tag_continues_its_type_in_any_column(tmp_path):
    # Wojood writes a token's tags left-packed: GPE is in the second column, then in the first
    docs, ctx = read(tmp_path, "وزارة B-ORG B-GPE\nفلسطين I-GPE\nاليوم O\n")
    [doc] = docs
    assert entities(doc) == [(0, len("وزارة فلسطين"), "GPE"), (0, len("وزارة"), "ORG")]
    assert where(ctx) == []


def test_an_orphan_inside_tag_starts_a_new_entity_with_a_located_warning(tmp_path):
    docs, ctx = read(tmp_path, "إيه B-MISC\nو O\nدي I-MISC\nسي I-MISC\n\nبي I-PERS\n")
    assert [entities(d) for d in docs] == [
        [(0, len("إيه"), "MISC"), (len("إيه و "), len("إيه و دي سي"), "MISC")],
        [(0, len("بي"), "PERS")],
    ]
    assert where(ctx) == [("conll-orphan-inside", 3), ("conll-orphan-inside", 6)]
    assert [p.task_id for p in ctx.report.problems] == ["sample-s000001", "sample-s000002"]
    assert ctx.report.stats["conll_read"]["orphan_inside"] == 2


def test_bioes_and_bilou_tags_are_read(tmp_path):
    data = "أ S-PER\nب B-ORG\nج I-ORG\nد E-ORG\nه I-ORG\nو U-LOC\nز B-LOC\nح L-LOC\nط O\nي E-GPE\n"
    docs, ctx = read(tmp_path, data)
    [doc] = docs
    assert entities(doc) == [
        (0, len("أ"), "PER"), (len("أ "), len("أ ب ج د"), "ORG"), (len("أ ب ج د "), len("أ ب ج د ه"), "ORG"),
        (len("أ ب ج د ه "), len("أ ب ج د ه و"), "LOC"), (len("أ ب ج د ه و "), len("أ ب ج د ه و ز ح"), "LOC"),
        (len("أ ب ج د ه و ز ح ط "), len(doc.text), "GPE"),
    ]
    # I- after an E- (the entity was closed) and E- after O are orphans
    assert where(ctx) == [("conll-orphan-inside", 5), ("conll-orphan-inside", 10)]


def test_bom_crlf_tab_separator_and_bidi_marks_before_tokens(tmp_path):
    lrm, rlm = "\u200e", "\u200f"
    data = (b"\xef\xbb\xbf" + f"{lrm}بغداد\tB-Population-Center\r\n{rlm}و\tO\r\n(\tO\r\n\t\r\n{lrm}؟\tO\r\n"
            .encode())
    docs, ctx = read(tmp_path, data)
    assert [d.text for d in docs] == ["بغداد و (", "؟"]
    assert entities(docs[0]) == [(0, len("بغداد"), "Population-Center")]
    assert [d.meta["bidi_marks_removed"] for d in docs] == [2, 1]
    stats = ctx.report.stats["conll_read"]
    assert (stats["bom"], stats["crlf_lines"], stats["bidi_marks_removed"], stats["tokens"]) == (True, 5, 3, 4)
    assert where(ctx) == []


def test_the_separator_is_decided_by_the_first_line_with_two_fields(tmp_path):
    docs, _ = read(tmp_path, "-DOCSTART-\n\nNew York\tB-LOC\ncity\tO\n")
    assert [(d.text, entities(d)) for d in docs] == [("New York city", [(0, len("New York"), "LOC")])]
    docs, ctx = read(tmp_path, "New York\tB-LOC\n", separator="space")
    assert where(ctx) == [("conll-not-a-tag", 1)]


def test_a_token_inside_marks_are_kept(tmp_path):
    docs, _ = read(tmp_path, "\u200eمر\u200fحبا\u200e O\n")
    assert docs[0].text == "مر\u200fحبا"


def test_empty_token_lines_are_skipped_with_a_located_warning(tmp_path):
    docs, ctx = read(tmp_path, "محمد B-PERS\n O\nعلي I-PERS\n\u200e O\n", name="space.txt")
    assert [(d.text, entities(d)) for d in docs] == [("محمد علي", [(0, len("محمد علي"), "PERS")])]
    assert where(ctx) == [("conll-empty-token", 2), ("conll-empty-token", 4)]
    docs, ctx = read(tmp_path, "محمد\tO\n\tO\n", name="tab.txt")
    assert [d.text for d in docs] == ["محمد"] and where(ctx) == [("conll-empty-token", 2)]
    assert ctx.report.stats["conll_read"]["empty_tokens"] == 1


def test_double_spaces_between_token_and_tag(tmp_path):
    docs, ctx = read(tmp_path, "مدريد  B-LOC\nريال  B-ORG\nمدريد I-ORG\nـ  O\n")
    [doc] = docs
    assert doc.text == "مدريد ريال مدريد ـ"
    assert entities(doc) == [(0, len("مدريد"), "LOC"), (len("مدريد "), len("مدريد ريال مدريد"), "ORG")]
    assert ctx.report.stats["conll_read"]["double_separators"] == 3
    assert where(ctx) == []


def test_a_field_that_is_not_a_tag_is_ignored_with_a_located_warning(tmp_path):
    # ANERcorp line 123413: two lines glued together
    docs, ctx = read(tmp_path, "قال O\n. Oالإصابة O\nعلي B-PERS\n")
    assert [(d.text, d.entities) for d in docs] == [("قال .", []), ("علي", [Span(0, len("علي"), "PERS", "e1", "علي")])]
    assert where(ctx) == [("conll-not-a-tag", 2), ("conll-sentence-cut", None)]


def test_a_token_without_a_tag_is_read_as_o_with_a_warning(tmp_path):
    docs, ctx = read(tmp_path, "قال O\nعلي\n")
    assert [(d.text, d.entities) for d in docs] == [("قال علي", [])]
    assert where(ctx) == [("conll-missing-tag", 2)]


def test_named_tag_columns_read_conll_2003(tmp_path):
    data = ("-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\n\n"
            "Peter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n")
    docs, ctx = read(tmp_path, data, tag_columns="4")
    [doc] = docs  # the file starts with -DOCSTART-: one document per block
    assert doc.id == "sample-d000001" and doc.text == "EU rejects German\nPeter Blackburn"
    assert entities(doc) == [(0, len("EU"), "ORG"), (len("EU rejects "), len("EU rejects German"), "MISC"),
                             (len("EU rejects German\n"), len(doc.text), "PER")]
    assert where(ctx) == []
    # without the option every POS field is warned about, and the chunk column is read as a tag column
    _, ctx = read(tmp_path, data)
    assert where(ctx) == [("conll-not-a-tag", line) for line in (3, 4, 5, 7, 8)]


def test_a_named_column_that_is_not_a_tag_is_a_located_error(tmp_path):
    docs, ctx = read(tmp_path, "EU NNP X-ORG\nrejects VBZ\n", tag_columns="3")
    assert [(d.text, d.entities) for d in docs] == [("EU rejects", [])]
    assert where(ctx) == [("conll-bad-tag", 1), ("conll-missing-tag", 2)]
    assert not ctx.report.valid


def test_a_line_that_is_not_utf8_is_a_located_error(tmp_path):
    docs, ctx = read(tmp_path, "قال O\n".encode() + b"\xff\xfe B-X\n" + "علي O\n".encode())
    assert [d.text for d in docs] == ["قال علي"]
    assert where(ctx) == [("conll-bad-encoding", 2)]


def test_docstart_blocks_are_documents_and_sentences_are_lines(tmp_path):
    data = "-DOCSTART- O\n\nأ B-X\nب O\n\nج O\n-DOCSTART- O\n\n-DOCSTART- O\nد I-X\n"
    docs, ctx = read(tmp_path, data)
    assert [(d.id, d.text) for d in docs] == [("sample-d000001", "أ ب\nج"), ("sample-d000002", "د")]
    assert docs[0].meta == {"rebuilt_from": "conll", "file": "sample.txt", "first_line": 3, "last_line": 6,
                            "sentences": 2, "tokens": 3, "token_separator": " ", "sentence_separator": "\n",
                            "bidi_marks_removed": 0}
    assert (docs[0].title, docs[0].source) == ("", "rebuilt from the CoNLL tokens of sample.txt")
    assert where(ctx) == [("conll-orphan-inside", 10)]


def test_the_documents_option_groups_sentences(tmp_path):
    data = "أ B-X\nب O\n\nج O\n"
    docs, _ = read(tmp_path, data)
    assert [(d.id, d.text, d.meta["first_line"]) for d in docs] == [("sample-s000001", "أ ب", 1),
                                                                     ("sample-s000002", "ج", 4)]
    docs, _ = read(tmp_path, data, documents="file")
    assert [(d.id, d.text, entities(d)) for d in docs] == [("sample-d000001", "أ ب\nج", [(0, 1, "X")])]
    docs, _ = read(tmp_path, "-DOCSTART- O\n\n" + data, documents="sentence")
    assert [d.text for d in docs] == ["أ ب", "ج"]


def test_a_file_without_sentence_breaks_is_cut_after_final_punctuation(tmp_path):
    data = "قال O\n. O\nعلي B-PERS\n؟ O\n! O\nد B-X\n. I-X\nم I-X\n. O\n"
    docs, ctx = read(tmp_path, data)
    assert [d.text for d in docs] == ["قال .", "علي ؟ !", "د . م ."]  # a run of marks stays together,
    assert entities(docs[2]) == [(0, len("د . م"), "X")]  # a tagged full stop is no sentence end
    assert where(ctx) == [("conll-sentence-cut", None)]
    assert "cut 2 times after sentence-final punctuation and 0 times" in ctx.report.problems[0].message


def test_a_long_run_is_cut_every_n_tokens_never_inside_an_entity(tmp_path):
    data = "أ O\nب O\nج B-X\nد I-X\nه O\nو O\nز O\nح O\n\nط O\n"
    docs, ctx = read(tmp_path, data, max_sentence_tokens="3")
    assert [d.text for d in docs] == ["أ ب ج د", "ه و ز", "ح", "ط"]
    assert entities(docs[0]) == [(len("أ ب "), len("أ ب ج د"), "X")]
    assert where(ctx) == [("conll-sentence-cut", None)]
    assert ctx.report.stats["conll_read"]["cuts_by_length"] == 2


def test_never_one_huge_sentence(tmp_path):
    docs, ctx = read(tmp_path, "كلمة O\n" * 1000)
    assert [d.meta["tokens"] for d in docs] == [200] * 5
    assert where(ctx) == [("conll-sentence-cut", None)]


def test_an_empty_file_warns(tmp_path):
    docs, ctx = read(tmp_path, "\n\n")
    assert docs == [] and where(ctx) == [("conll-no-tokens", None)]


@pytest.mark.parametrize("options", [{"separator": "comma"}, {"tag_columns": "1"}, {"tag_columns": "x"},
                                     {"max_sentence_tokens": "0"}, {"documents": "page"},
                                     # a digit int() refuses raised ValueError (a traceback); a column named twice
                                     # read every entity of it twice
                                     {"max_sentence_tokens": "²"}, {"tag_columns": "²"}, {"tag_columns": "2,2"}])
def test_bad_options_are_input_errors(tmp_path, options):
    with pytest.raises(InputError):
        read(tmp_path, "أ O\n", **options)


def test_a_folder_or_a_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="folder"):
        list(read_conll(tmp_path, Context()))
    with pytest.raises(InputError, match="cannot read"):
        list(read_conll(tmp_path / "missing.txt", Context()))


# -- writing --------------------------------------------------------------------------------------------

def test_nested_spans_go_to_extra_columns_and_lines_become_sentences(tmp_path):
    text = "قال رئيس بلدية طولكرم\r\nإن وبغداد جميلة."
    end = len("قال رئيس بلدية طولكرم")
    doc = Document("a", text, [
        make_span(text, len("قال "), end, "OCC", "1"), make_span(text, len("قال رئيس "), end, "ORG", "2"),
        make_span(text, len("قال رئيس بلدية "), end, "GPE", "3"),
        make_span(text, len("قال رئيس بلدية طولكرم\r\nإن و"), len("قال رئيس بلدية طولكرم\r\nإن وبغداد"), "GPE", "4"),
    ])
    out, ctx = write(tmp_path, [doc, Document("b", "نعم", [])])
    assert out == ("-DOCSTART- O\n\nقال O O O\nرئيس B-OCC O O\nبلدية I-OCC B-ORG O\nطولكرم I-OCC I-ORG B-GPE\n\n"
                   "إن O O O\nوبغداد B-GPE O O\nجميلة O O O\n. O O O\n\n-DOCSTART- O\n\nنعم O\n")
    assert ctx.report.stats["conll_write"] == {"documents": 2, "sentences": 3, "tokens": 9, "spans_written": 4,
                                               "spans_widened": 1, "spans_not_written": 0, "max_columns": 3}
    assert ctx.report.problems == []


def test_a_span_across_a_line_break_keeps_its_tokens_in_one_sentence(tmp_path):
    text = "جامعة\nالقاهرة\nاليوم"
    out, _ = write(tmp_path, [Document("a", text, [make_span(text, 0, len("جامعة\nالقاهرة"), "ORG")])],
                   separator="tab", docstart="no")
    assert out == "جامعة\tB-ORG\nالقاهرة\tI-ORG\n\nاليوم\tO\n"


def test_what_conll_cannot_hold_is_reported_per_document(tmp_path):
    text = "زار \u200f بغداد"
    doc = Document("a", text, [make_span(text, len("زار "), len("زار \u200f"), "X", "s1"),
                               make_span(text, len("زار \u200f "), len(text), "مدينة كبيرة", "s2"),
                               make_span(text, len("زار \u200f "), len(text), "GPE", "s3")],
                   relations=[Relation("s3", "s1", "near", "r1")])
    out, ctx = write(tmp_path, [doc, Document("empty", " \n ", [])])
    assert out == "-DOCSTART- O\n\nزار O\nبغداد B-GPE\n"
    assert [(p.code, p.task_id) for p in ctx.report.problems] == [
        ("conll-relations-dropped", "a"), ("conll-span-not-written", "a"), ("conll-empty-document", "empty")]
    assert "s1" in ctx.report.problems[1].message and "s2" in ctx.report.problems[1].message


def test_the_writer_uses_the_segmentation_setting(tmp_path):
    text = "زار والرياض"
    doc = Document("a", text, [make_span(text, len("زار و"), len(text), "GPE", "1")])
    path = tmp_path / "out.conll"
    ctx = Context(segmentation="proclitic-article")
    write_conll([doc], path, ctx)
    assert path.read_text(encoding="utf-8") == "-DOCSTART- O\n\nزار O\nو O\nالرياض B-GPE\n"
    assert ctx.report.stats["conll_write"]["spans_widened"] == 0
    [back] = read_conll(path, Context())
    assert (back.text, entities(back)) == ("زار و الرياض", [(len("زار و "), len("زار و الرياض"), "GPE")])


def test_a_bad_writer_option_is_an_input_error(tmp_path):
    with pytest.raises(InputError):
        write(tmp_path, [], docstart="maybe")


# -- round trips ----------------------------------------------------------------------------------------

def expected_cover(doc: Document) -> tuple[Counter, int]:
    """Independent expectation: each span widened to word edges (bio_reference.word_widened) and named by the
    indices of the tokens it covers; spans whose widened edges are not token edges (whitespace, marks) or whose
    label holds whitespace cannot be held."""
    tokens = tokenize(doc.text)
    first = {t.start: i for i, t in enumerate(tokens)}
    last = {t.end: i for i, t in enumerate(tokens)}
    held: Counter = Counter()
    not_held = 0
    for span in doc.entities:
        wide = word_widened(doc.text, span)
        i, j = first.get(wide.start), last.get(wide.end)
        if i is None or j is None or j < i or re.search(r"\s", span.label):
            not_held += 1
        else:
            held[(i, j, span.label)] += 1
    return held, not_held


def read_cover(doc: Document) -> Counter:
    """The read spans as token indices, tokens found by splitting the rebuilt text at its separators."""
    tokens = list(re.finditer(r"[^ \n]+", doc.text))
    first = {m.start(): i for i, m in enumerate(tokens)}
    last = {m.end(): i for i, m in enumerate(tokens)}
    return Counter((first[s.start], last[s.end], s.label) for s in doc.entities)


def round_trip(tmp_path: Path, docs: list[Document], **options: str) -> None:
    _, write_ctx = write(tmp_path, docs, **options)
    path = tmp_path / "out.conll"
    read_ctx = Context(options={k: v for k, v in options.items() if k == "separator"})
    back = list(read_conll(path, read_ctx))
    kept = [d for d in docs if tokenize(d.text)]
    assert len(back) == len(kept)
    not_held = 0
    for original, doc in zip(kept, back, strict=True):
        assert re.findall(r"[^ \n]+", doc.text) == [t.text for t in tokenize(original.text)]
        held, missing = expected_cover(original)
        assert read_cover(doc) == held
        not_held += missing
    assert write_ctx.report.stats["conll_write"]["spans_not_written"] == not_held
    assert [p.code for p in read_ctx.report.problems] == ([] if kept else ["conll-no-tokens"])


def test_round_trip_of_hand_written_arabic(tmp_path):
    rlm = "\u200f"
    text = f"قال {rlm}محمد بن راشد{rlm} إن 😀 دبيـــ\r\nوبغداد‌ستان 👍🏽 جميلة!\r\n\r\nمَرْحَبًا {rlm}"
    spans = [
        make_span(text, len(f"قال {rlm}"), len(f"قال {rlm}محمد بن راشد"), "PER", "p"),  # RLM outside its edges
        make_span(text, len(f"قال {rlm}محمد بن "), len(f"قال {rlm}محمد بن راشد"), "PER", "p2"),  # nested
        make_span(text, len(f"قال {rlm}محمد بن راشد{rlm} إن 😀 "), len(f"قال {rlm}محمد بن راشد{rlm} إن 😀 دب"),
                  "GPE", "tatweel"),  # widened over the tatweel
        make_span(text, text.index("\r\nو") - 3, text.index("بغداد") + 2, "LOC", "across-crlf"),
        make_span(text, text.index("😀"), text.index("😀") + 1, "EMOJI", "e"),
        make_span(text, text.index("مَرْحَبًا"), len(text), "X", "rlm-inside-edge"),  # cannot be held
        make_span(text, text.index("بغداد"), text.index("ستان"), "GPE", "inside-a-token"),
    ]
    round_trip(tmp_path, [Document("a", text, spans)])
    round_trip(tmp_path, [Document("a", text, spans)], separator="tab")


PIECES = ["محمد", "بغداد", "وبغداد", "الرياض", "ـ", "\u064e", "\u0651", " ", " ", "  ", "\r\n", "\n", "\u200f",
          "\u200e", "😀", "👍🏽", ".", "،", "؟", "١٢", "\u200c", "(", "ال"]
LABELS = ["PER", "ORG", "Population-Center", "شخص", "B-X", "two words"]


@st.composite
def documents(draw) -> list[Document]:
    docs = []
    for n in range(draw(st.integers(1, 3))):
        text = "".join(draw(st.lists(st.sampled_from(PIECES), max_size=30)))
        spans = []
        if text:
            for k in range(draw(st.integers(0, 6))):
                start = draw(st.integers(0, len(text) - 1))
                end = draw(st.integers(start + 1, len(text)))
                spans.append(make_span(text, start, end, draw(st.sampled_from(LABELS)), f"T{k}"))
        docs.append(Document(f"d{n}", text, spans))
    return docs


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(docs=documents(), separator=st.sampled_from(["space", "tab"]))
def test_round_trip_keeps_every_span_the_format_can_hold(docs, separator):
    with tempfile.TemporaryDirectory() as folder:
        round_trip(Path(folder), docs, separator=separator)


def test_round_trip_counts_what_it_cannot_hold(tmp_path):
    text = "أ  ب"
    docs = [Document("a", text, [Span(1, 3, "X", "ws", text[1:3]), make_span(text, 0, 1, "Y", "y")])]
    round_trip(tmp_path, docs)
    _, ctx = write(tmp_path, docs)
    assert ctx.report.stats["conll_write"]["spans_not_written"] == 1
