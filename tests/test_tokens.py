"""token_table: the tokens config of a batch at once equals the reference (spans_to_bio), document by document;
tokens are a function of the text alone."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from bio_reference import reference_rows, word_widened
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus_tools import tokens as tokens_module
from corpus_tools.artefacts import ontology_to_features
from corpus_tools.spans import SEGMENTATIONS, Span, tokenize
from corpus_tools.tokens import TagIds, _id_ranks, span_arrays, token_bounds, token_table

ALPHABET = (
    "ابتثجحخدذرسشصضطظعغفقكلمنهوي" "ءآأؤإئة"  # Arabic letters
    "\u064b\u064e\u064f\u0650\u0651\u0652"  # harakat
    "\u0640"  # tatweel
    "0123456789٠١٢٣"  # digits
    "abcXYZé"  # Latin
    ".,:;!?،؛؟-()\"'«»"  # punctuation
    "  \t\n\r\n"  # spaces and newlines
    "😀🇸🇦"  # emoji
    "\u200c\u200d\u200f\u200e\u061c"  # ZWNJ, ZWJ, RLM, LRM, ALM
    "\u0301\U0001d400_²"  # a combining mark after any letter, a mathematical letter, connector, superscript
)

PIECES = ["وال", "بال", "لل", "وبال", "فال", "كال", "ال", "ولل", "وـ"]  # what the segmentation rule looks for
TEXTS = st.lists(st.sampled_from(list(ALPHABET) + PIECES), max_size=40).map("".join)


@pytest.fixture(scope="module")
def setup(ontology):
    schema = ontology_to_features(ontology)["tokens"].arrow_schema
    bio_ids = {label: i for i, label in enumerate(ontology.bio_labels)}
    return ontology, schema, bio_ids, TagIds.from_labels(ontology.entity_labels, bio_ids)


def batched(docs, ontology, tags, schema, *, with_ids=True, segmentation="none"):
    label_ids = {label: k for k, label in enumerate(ontology.entity_labels)}
    arrays = span_arrays([doc_spans for _, _, doc_spans in docs], label_ids)
    if not with_ids:
        arrays = arrays._replace(ids=None)
    table = token_table([d[0] for d in docs], [d[1] for d in docs], *arrays, tags, schema, segmentation=segmentation)
    spans = [(d, s) for d, (_, _, doc_spans) in enumerate(docs) for s in doc_spans]

    def located(indices):
        return Counter((spans[k][0], spans[k][1].start, spans[k][1].end, spans[k][1].label, spans[k][1].id)
                       for k in indices.tolist())

    return table, located(table.unencodable), located(table.widened)


def assert_same(docs, setup, *, with_ids=True, segmentation="none"):
    ontology, schema, bio_ids, tags = setup
    expected, counts, unencodable, widened = reference_rows(docs, schema, bio_ids, segmentation=segmentation)
    table, got_unencodable, got_widened = batched(docs, ontology, tags, schema, with_ids=with_ids,
                                                  segmentation=segmentation)
    assert table.rows.schema == schema
    assert table.rows.equals(pa.Table.from_batches([expected])), (table.rows.to_pylist(), expected.to_pylist())
    if table.rows.num_rows == 0 or len(table.rows.to_batches()) == 1:  # no buffer larger than the reference's
        assert table.rows.nbytes == expected.nbytes
    assert table.token_counts.dtype == np.int64
    assert table.token_counts.tolist() == counts
    assert table.unencodable.dtype == np.int64
    assert got_unencodable == unencodable
    assert table.widened.dtype == np.int64 and got_widened == widened
    return table


@st.composite
def documents(draw, labels, *, unique_ids: bool = False, texts: list[str] | None = None):
    count = draw(st.integers(0, 6)) if texts is None else len(texts)
    docs = []
    serial = 0
    for d in range(count):
        text = draw(TEXTS) if texts is None else texts[d]
        spans = []
        if len(text) >= 1:
            for _ in range(draw(st.integers(0, 8))):
                start = draw(st.integers(0, len(text) - 1))
                end = draw(st.integers(start + 1, len(text)))
                if spans and draw(st.booleans()):  # an identical span, or one with the same edges
                    other = draw(st.sampled_from(spans))
                    start, end = other.start, other.end
                label = draw(st.sampled_from(labels))
                span_id = f"s{serial:03d}" if unique_ids else draw(st.sampled_from(["a", "b", "c", "", "a1"]))
                serial += 1
                spans.append(Span(start=start, end=end, label=label, id=span_id, text=text[start:end]))
        docs.append((f"doc-{d}", text, spans))
    return docs


LABELS = ["PER", "ORG", "GPE", "LOC", "FAC", "NORP"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(docs=documents(LABELS), segmentation=st.sampled_from(SEGMENTATIONS))
def test_equals_the_reference(setup, docs, segmentation):
    assert_same(docs, setup, segmentation=segmentation)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(docs=documents(LABELS), segmentation=st.sampled_from(SEGMENTATIONS))
def test_runs_of_a_few_code_points_equal_the_reference(setup, docs, segmentation, monkeypatch):
    # token_table tokenizes a run of texts at a time: with runs of 12 code points, most batches take several
    monkeypatch.setattr(tokens_module, "TOKEN_RUN", 12)
    table = assert_same(docs, setup, segmentation=segmentation)
    if len(docs) > 1 and sum(len(d[1]) for d in docs) > 12:
        assert len(table.rows.to_batches()) > 1


def test_a_long_batch_is_tokenized_in_runs(setup, monkeypatch):
    monkeypatch.setattr(tokens_module, "TOKEN_RUN", len("إلى بيروت") + len("اليوم"))
    docs = [("a", "وصل الوفد", [Span(len("وصل "), len("وصل الوفد"), "ORG", "o", "الوفد")]),
            ("b", "إلى بيروت", [Span(len("إلى "), len("إلى بيروت"), "GPE", "g", "بيروت")]),
            ("c", "اليوم", [])]
    table = assert_same(docs, setup)
    assert [batch.num_rows for batch in table.rows.to_batches()] == [1, 2]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(docs=documents(LABELS), other=st.data(), segmentation=st.sampled_from(SEGMENTATIONS))
def test_annotations_never_change_the_tokens(setup, docs, other, segmentation):
    # The same texts with other spans (added, removed, changed), and with none: same tokens and offsets, and
    # those of the tokenizer on the text alone.
    ontology, schema, _, tags = setup
    changed = [(doc_id, text, spans) for (doc_id, text, _), (_, _, spans)
               in zip(docs, other.draw(documents(LABELS, texts=[d[1] for d in docs])), strict=True)]
    bare = [(doc_id, text, []) for doc_id, text, _ in docs]
    columns = ["tokens", "token_start", "token_end"]
    first = batched(docs, ontology, tags, schema, segmentation=segmentation)[0].rows.select(columns)
    for variant in (changed, bare):
        again = batched(variant, ontology, tags, schema, segmentation=segmentation)[0].rows.select(columns)
        assert again.equals(first)
    starts, ends, counts = token_bounds([d[1] for d in docs], segmentation)
    assert counts.tolist() == [len(tokenize(d[1], segmentation)) for d in docs]
    assert pc.list_flatten(first.column("token_start")).to_pylist() == starts.tolist()
    assert pc.list_flatten(first.column("token_end")).to_pylist() == ends.tolist()
    codes = np.array([ord(c) for d in docs for c in d[1]], dtype=np.uint32)  # given by a caller that has them
    given = token_bounds([d[1] for d in docs], segmentation, codes=codes)
    assert [a.tolist() for a in given] == [starts.tolist(), ends.tolist(), counts.tolist()]


def test_a_proclitic_stays_inside_the_entity_token(setup):
    text = "وصل الوفد وبيروت اليوم"
    docs = [("d", text, [Span(len("وصل الوفد و"), len("وصل الوفد وبيروت"), "GPE", "g", "بيروت")])]
    b_gpe = setup[2]["B-GPE"]
    wide = assert_same(docs, setup)
    assert wide.rows.column("tokens").to_pylist() == [["وصل", "الوفد", "وبيروت", "اليوم"]]
    assert wide.rows.column("ner_tags").to_pylist() == [[0, 0, b_gpe, 0]]
    starts = [0, len("وصل "), len("وصل الوفد "), len("وصل الوفد وبيروت ")]
    assert wide.rows.column("token_start").to_pylist() == [starts]
    assert wide.widened.tolist() == [0] and wide.unencodable.tolist() == []


def test_the_segmentation_rule_cuts_proclitics_before_the_article_whatever_the_labels(setup):
    text = "زار والرياض ثم للجامعة ووالده"
    docs = [("d", text, [Span(len("زار و"), len("زار والرياض"), "GPE", "g", "الرياض")])]
    cut = assert_same(docs, setup, segmentation="proclitic-article")
    assert cut.rows.column("tokens").to_pylist() == [["زار", "و", "الرياض", "ثم", "ل", "لجامعة", "ووالده"]]
    assert cut.rows.column("ner_tags").to_pylist() == [[0, 0, setup[2]["B-GPE"], 0, 0, 0, 0]]
    assert cut.widened.tolist() == []
    whole = assert_same(docs, setup)
    assert whole.rows.column("tokens").to_pylist() == [["زار", "والرياض", "ثم", "للجامعة", "ووالده"]]
    assert whole.widened.tolist() == [0]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(docs=documents(LABELS, unique_ids=True))
def test_without_span_order_ties_keep_array_order(setup, docs):
    # Ids in array order: the position breaks ties exactly as the ids would.
    assert_same(docs, setup, with_ids=False)


def test_label_names_break_ties_not_label_indices(setup):
    # ORG comes before GPE in the ontology but after it by name: select_flat keeps the GPE span.
    text = "في بغداد اليوم"
    start, end = len("في "), len("في بغداد")
    docs = [("d", text, [Span(start, end, "ORG", "x", text[start:end]), Span(start, end, "GPE", "y", text[start:end])])]
    table = assert_same(docs, setup)
    assert table.rows.column("ner_tags").to_pylist() == [[0, setup[2]["B-GPE"], 0]]
    assert table.unencodable.tolist() == [0]


def test_span_edges_never_cut_tokens_and_whitespace_spans_are_unencodable(setup):
    text = "وبغداد  عاصمة"
    docs = [("d", text, [
        Span(len("و"), len("وبغداد"), "GPE", "a", "بغداد"),
        Span(len("وبغداد "), len("وبغداد  "), "LOC", "b", " "),  # whitespace only
        Span(len("وبغداد  عا"), len(text), "LOC", "c", "صمة"),  # inside عاصمة
    ])]
    table = assert_same(docs, setup)
    assert table.rows.column("tokens").to_pylist() == [["وبغداد", "عاصمة"]]
    tags = setup[2]
    assert table.rows.column("ner_tags").to_pylist() == [[tags["B-GPE"], tags["B-LOC"]]]
    assert table.unencodable.tolist() == [1] and table.widened.tolist() == [0, 2]


def test_spans_widened_onto_the_same_token_are_unencodable_but_one(setup):
    text = "أمريكية"
    docs = [("d", text, [Span(0, len("أمريكي"), "NORP", "a", "أمريكي"), Span(len("أمري"), len(text), "GPE", "b",
                                                                                 text[len("أمري"):])])]
    table = assert_same(docs, setup)
    assert table.widened.tolist() == [0, 1] and len(table.unencodable) == 1


def test_empty_texts_documents_without_spans_and_batches_of_one(setup):
    assert_same([], setup)
    assert_same([("empty", "", [])], setup)
    assert_same([("a", "", []), ("b", "قال الرئيس.", []), ("c", "", []), ("d", "😀 x", [])], setup)
    text = "محمد بن سلمان"
    assert_same([("one", text, [Span(0, len(text), "PER", "p", text)])], setup)


def test_tokens_never_cross_documents(setup):
    docs = [("a", "بغداد", []), ("b", "الرياض", []), ("c", "...", [])]
    table = assert_same(docs, setup)
    assert table.rows.column("tokens").to_pylist() == [["بغداد"], ["الرياض"], [".", ".", "."]]


def test_bad_spans_are_refused(setup):
    ontology, schema, _, tags = setup
    with pytest.raises(ValueError, match="start < end"):
        token_table(["a"], ["abc"], np.array([0, 1]), np.array([2]), np.array([2]), np.array([0]), None, tags,
                    schema)
    with pytest.raises(ValueError, match="entity labels"):
        token_table(["a"], ["abc"], np.array([0, 1]), np.array([0]), np.array([1]), np.array([-1]), None, tags,
                    schema)
    with pytest.raises(ValueError, match="span_offsets"):
        token_table(["a"], ["abc"], np.array([0, 2]), np.array([0]), np.array([1]), np.array([0]), None, tags,
                    schema)


def test_id_ranks_follow_python_string_order():
    ids = ["b", "a", "", "b", "ب", "a\x00", "Z"]
    ranks = _id_ranks(ids).tolist()
    for x, rx in zip(ids, ranks, strict=True):
        for y, ry in zip(ids, ranks, strict=True):
            assert (x < y) == (rx < ry) and (x == y) == (rx == ry)


@settings(max_examples=200, deadline=None)
@given(docs=documents(LABELS))
def test_widened_spans_are_those_of_the_word_edges(docs):
    # The reference's widening (through the tokenizer) against one that only looks at word characters.
    from corpus_tools.spans import spans_to_bio

    for _, text, spans in docs:
        bio = spans_to_bio(text, spans)
        expected = [s for s in spans if (word_widened(text, s).start, word_widened(text, s).end) != (s.start, s.end)]
        assert bio.widened == expected
