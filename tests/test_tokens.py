"""token_table: the tokens config of a batch at once equals the reference (spans_to_bio), document by document."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from bio_reference import reference_rows, whole_token_spans
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus_tools.artefacts import ontology_to_features
from corpus_tools.spans import Span
from corpus_tools.tokens import TagIds, _id_ranks, span_arrays, token_table

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


@pytest.fixture(scope="module")
def setup(ontology):
    schema = ontology_to_features(ontology)["tokens"].arrow_schema
    bio_ids = {label: i for i, label in enumerate(ontology.bio_labels)}
    return ontology, schema, bio_ids, TagIds.from_labels(ontology.entity_labels, bio_ids)


def batched(docs, ontology, tags, schema, *, with_ids=True, whole_tokens=False):
    label_ids = {label: k for k, label in enumerate(ontology.entity_labels)}
    arrays = span_arrays([doc_spans for _, _, doc_spans in docs], label_ids)
    if not with_ids:
        arrays = arrays._replace(ids=None)
    table = token_table([d[0] for d in docs], [d[1] for d in docs], *arrays, tags, schema, whole_tokens=whole_tokens)
    spans = [(d, s) for d, (_, _, doc_spans) in enumerate(docs) for s in doc_spans]
    unencodable = Counter(
        (spans[k][0], spans[k][1].start, spans[k][1].end, spans[k][1].label, spans[k][1].id)
        for k in table.unencodable.tolist()
    )
    return table, unencodable


def assert_same(docs, setup, *, with_ids=True, whole_tokens=False):
    ontology, schema, bio_ids, tags = setup
    expected, counts, unencodable = reference_rows(docs, schema, bio_ids, whole_tokens=whole_tokens)
    table, got_unencodable = batched(docs, ontology, tags, schema, with_ids=with_ids, whole_tokens=whole_tokens)
    assert table.batch.schema == schema
    assert table.batch.equals(expected), (table.batch.to_pylist(), expected.to_pylist())
    assert table.batch.nbytes == expected.nbytes
    assert table.token_counts.dtype == np.int64
    assert table.token_counts.tolist() == counts
    assert table.unencodable.dtype == np.int64
    assert got_unencodable == unencodable
    return table


@st.composite
def documents(draw, labels, *, unique_ids: bool = False):
    count = draw(st.integers(0, 6))
    docs = []
    serial = 0
    for d in range(count):
        text = draw(st.text(alphabet=ALPHABET, max_size=60))
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
@given(docs=documents(LABELS))
def test_equals_the_reference(setup, docs):
    assert_same(docs, setup)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(docs=documents(LABELS))
def test_whole_token_mode_equals_the_reference(setup, docs):
    assert_same(docs, setup, whole_tokens=True)


def test_whole_token_mode_puts_the_proclitic_inside(setup):
    text = "وصل الوفد وبيروت اليوم"
    docs = [("d", text, [Span(len("وصل الوفد و"), len("وصل الوفد وبيروت"), "GPE", "g", "بيروت")])]
    b_gpe = setup[2]["B-GPE"]
    wide = assert_same(docs, setup, whole_tokens=True)
    assert wide.batch.column("tokens").to_pylist() == [["وصل", "الوفد", "وبيروت", "اليوم"]]
    assert wide.batch.column("ner_tags").to_pylist() == [[0, 0, b_gpe, 0]]
    starts = [0, len("وصل "), len("وصل الوفد "), len("وصل الوفد وبيروت ")]
    assert wide.batch.column("token_start").to_pylist() == [starts]
    exact = assert_same(docs, setup)
    assert exact.batch.column("tokens").to_pylist() == [["وصل", "الوفد", "و", "بيروت", "اليوم"]]
    assert exact.batch.column("ner_tags").to_pylist() == [[0, 0, 0, b_gpe, 0]]


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
    assert table.batch.column("ner_tags").to_pylist() == [[0, setup[2]["B-GPE"], 0]]
    assert table.unencodable.tolist() == [0]


def test_span_edges_cut_tokens_and_whitespace_spans_are_unencodable(setup):
    text = "وبغداد  عاصمة"
    docs = [("d", text, [
        Span(len("و"), len("وبغداد"), "GPE", "a", "بغداد"),
        Span(len("وبغداد "), len("وبغداد  "), "LOC", "b", " "),  # whitespace only
        Span(len("وبغداد  عا"), len(text), "LOC", "c", "صمة"),  # nested-free, cuts عاصمة
    ])]
    table = assert_same(docs, setup)
    assert table.batch.column("tokens").to_pylist() == [["و", "بغداد", "عا", "صمة"]]
    assert table.unencodable.tolist() == [1]


def test_empty_texts_documents_without_spans_and_batches_of_one(setup):
    assert_same([], setup)
    assert_same([("empty", "", [])], setup)
    assert_same([("a", "", []), ("b", "قال الرئيس.", []), ("c", "", []), ("d", "😀 x", [])], setup)
    text = "محمد بن سلمان"
    assert_same([("one", text, [Span(0, len(text), "PER", "p", text)])], setup)


def test_tokens_never_cross_documents(setup):
    docs = [("a", "بغداد", []), ("b", "الرياض", []), ("c", "...", [])]
    table = assert_same(docs, setup)
    assert table.batch.column("tokens").to_pylist() == [["بغداد"], ["الرياض"], [".", ".", "."]]


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
def test_reference_whole_token_spans_cover_the_original_and_keep_text(docs):
    for _, text, spans in docs:
        for before, after in zip(spans, whole_token_spans(text, spans), strict=True):
            assert after.start <= before.start and before.end <= after.end
            assert text[after.start:after.end] == after.text
            assert (after.id, after.label) == (before.id, before.label)
