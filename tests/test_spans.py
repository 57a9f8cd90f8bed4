from __future__ import annotations

from collections import Counter

import pytest
import regex
from bio_reference import word_widened
from hypothesis import given, settings
from hypothesis import strategies as st

from corpus_tools.spans import (
    Document,
    Relation,
    Span,
    base_tokens,
    bio_to_spans,
    make_span,
    select_flat,
    spans_to_bio,
    tokenize,
    widen_to_tokens,
)
from corpus_tools.text import is_edge_forbidden

TEXT = "وقال الرئيس الروسي فلاديمير بوتين في بغداد وبغداد، للجامعة العربية"


def test_a_name_with_a_proclitic_tags_the_whole_token():
    start = len("وقال الرئيس الروسي فلاديمير بوتين في بغداد و")
    span = make_span(TEXT, start, start + len("بغداد"), "GPE")
    enc = spans_to_bio(TEXT, [span])
    pairs = [(t.text, tag) for t, tag in zip(enc.tokens, enc.tags, strict=True)]
    assert pairs[-5:-2] == [("بغداد", "O"), ("وبغداد", "B-GPE"), ("،", "O")]
    assert enc.widened == [span] and enc.unencodable == []
    widened = Span(start - len("و"), start + len("بغداد"), "GPE", "", "وبغداد")
    assert bio_to_spans(TEXT, enc.tokens, enc.tags).spans == [widened]


def test_the_issue_example_keeps_both_proclitics_attached():
    text = "زار وبغداد ثم وبيروت"
    span = make_span(text, len("زار و"), len("زار وبغداد"), "GPE")
    enc = spans_to_bio(text, [span])
    assert [(t.text, g) for t, g in zip(enc.tokens, enc.tags, strict=True)] == [
        ("زار", "O"), ("وبغداد", "B-GPE"), ("ثم", "O"), ("وبيروت", "O")]
    inner = make_span("وزير", len("و"), len("وزير"), "PER")
    assert [t.text for t in spans_to_bio("وزير", [inner]).tokens] == ["وزير"]


def test_li_al_contraction_and_multiword_span():
    start = len("وقال الرئيس الروسي فلاديمير بوتين في بغداد وبغداد، ل")
    span = make_span(TEXT, start, len(TEXT), "ORG")
    assert span.text == "لجامعة العربية"
    enc = spans_to_bio(TEXT, [span])
    assert [(t.text, g) for t, g in zip(enc.tokens, enc.tags, strict=True)][-2:] == [
        ("للجامعة", "B-ORG"), ("العربية", "I-ORG")]
    assert enc.widened == [span]
    cut = spans_to_bio(TEXT, [span], "proclitic-article")
    assert [(t.text, g) for t, g in zip(cut.tokens, cut.tags, strict=True)][-3:] == [
        ("ل", "O"), ("لجامعة", "B-ORG"), ("العربية", "I-ORG")]
    assert cut.widened == [] and bio_to_spans(TEXT, cut.tokens, cut.tags).spans == [span]


@pytest.mark.parametrize(("word", "cut"), [
    ("والرياض", "و|الرياض"), ("بالعراق", "ب|العراق"), ("وبالجيش", "وب|الجيش"), ("فالحكومة", "ف|الحكومة"),
    ("كالعادة", "ك|العادة"), ("للجامعة", "ل|لجامعة"), ("وللأمم", "ول|لأمم"), ("وَالرياض", "وَ|الرياض"),
    ("لـلجامعة", "لـ|لجامعة"),
    # too short after the article's lam, no article, or not at a word start: not cut
    ("والد", "والد"), ("بالغة", "بالغة"), ("لله", "لله"), ("وبغداد", "وبغداد"), ("الرياض", "الرياض"),
    ("ووالده", "ووالده"), ("الوالي", "الوالي"),
])
def test_the_segmentation_rule(word, cut):
    assert "|".join(t.text for t in tokenize(word, "proclitic-article")) == cut
    assert [t.text for t in tokenize(word)] == [word]


def test_unknown_segmentation_is_refused():
    with pytest.raises(ValueError, match="segmentation must be one of none, proclitic-article"):
        tokenize("x", "clitics")


def test_tokenizer_keeps_harakat_tatweel_and_splits_punctuation():
    text = "مُحَمَّد لـبنان، سوريا\u061cالعراق «نص»"
    assert [t.text for t in tokenize(text)] == ["مُحَمَّد", "لـبنان", "،", "سوريا", "العراق", "«", "نص", "»"]
    for tok in tokenize(text, "proclitic-article"):
        assert text[tok.start : tok.end] == tok.text


def test_nested_spans_are_reported_not_dropped():
    text = "وزير الخارجية الروسي سيرغي لافروف"
    outer = make_span(text, 0, len("وزير الخارجية الروسي"), "PER")
    inner = make_span(text, len("وزير الخارجية "), len("وزير الخارجية الروسي"), "GPE")
    enc = spans_to_bio(text, [inner, outer])
    assert enc.unencodable == [inner]
    assert bio_to_spans(text, enc.tokens, enc.tags).spans == [outer]


def test_span_edge_on_whitespace_is_unencodable():
    text = "زار  بوتين"
    bad = make_span(text, len("زار "), len(text), "PER")  # starts on the second space
    enc = spans_to_bio(text, [bad])
    assert enc.unencodable == [bad] and set(enc.tags) == {"O"}


def test_orphan_inside_starts_a_new_span():
    text = "إيه . دي"
    tokens = base_tokens(text)
    dec = bio_to_spans(text, tokens, ["B-MISC", "O", "I-MISC"])
    assert [s.text for s in dec.spans] == ["إيه", "دي"] and dec.orphans == [2]
    dec = bio_to_spans(text, tokens, ["B-MISC", "I-PER", "X-Y"])
    assert [(s.text, s.label) for s in dec.spans] == [("إيه", "MISC"), (".", "PER")]
    assert dec.orphans == [1] and dec.bad_tags == [2]


def test_document_round_trips_through_dict():
    doc = Document(
        id="a1", text=TEXT, title="t", entities=[make_span(TEXT, 0, 4, "PER", "s1")],
        relations=[Relation("s1", "s1", "X", "r1")], meta={"annotator": 3},
    )
    assert Document.from_dict(doc.to_dict()) == doc


# --- properties -------------------------------------------------------------------------------

ALPHABET = (
    "ابتثجحخدذرزسشصضطظعغفقكلمنهويءآأإئؤةى"  # letters
    "\u064b\u064e\u064f\u0650\u0651\u0652\u0670"  # harakat
    "\u0640"  # tatweel
    "٠١٢٣0123"  # digits
    "،؛؟.,«»()-"  # punctuation
    " \n\r\t\u00a0"  # whitespace, CRLF pieces
    "\u200e\u200f\u061c\u202b\u202c\u200c\u200d\ufeff"  # Cf: bidi marks, ZWNJ/ZWJ, BOM
    "😀🇫🇷👍🏽"  # emoji (astral, flags, modifiers)
)
texts = st.lists(st.sampled_from(list(ALPHABET) + ["\r\n", "وب", "ال"]), min_size=1, max_size=60).map("".join)


@st.composite
def text_and_spans(draw):
    text = draw(texts)
    edges = sorted(draw(st.lists(st.integers(0, len(text)), max_size=10, unique=True)))
    spans = []
    for i in range(0, len(edges) - 1, 2):
        start, end = edges[i], edges[i + 1]
        if start < end and not is_edge_forbidden(text[start]) and not is_edge_forbidden(text[end - 1]):
            if regex.fullmatch(r"[\s\p{Cf}]*", text[start:end]) is None:
                spans.append(make_span(text, start, end, draw(st.sampled_from(["PER", "GPE", "ORG"])),
                                       f"s{i}"))
    return text, spans


def _clean(span: Span) -> Span:
    return Span(span.start, span.end, span.label, "", span.text)


def _widened(text: str, spans: list[Span]) -> list[Span]:
    return [_clean(word_widened(text, s)) for s in spans]


@settings(max_examples=400, deadline=None)
@given(text_and_spans())
def test_spans_bio_spans_gives_the_spans_widened_to_word_edges(case):
    # Non-overlapping spans: decoded back, each is the span widened to the edges of the words it touches
    # (the identity for spans on word edges), unless two widen onto one token.
    text, spans = case
    enc = spans_to_bio(text, spans)
    dec = bio_to_spans(text, enc.tokens, enc.tags)
    flat, rest = select_flat(_widened(text, spans))
    assert dec.spans == sorted(flat)
    assert len(enc.unencodable) == len(rest)
    assert dec.orphans == [] and dec.bad_tags == []
    on_edges = [s for s in spans if _clean(s) in _widened(text, [s])]
    assert [s for s in spans if s not in enc.widened] == on_edges


@settings(max_examples=400, deadline=None)
@given(texts, st.sampled_from(["none", "proclitic-article"]))
def test_tokens_and_gaps_rebuild_text(text, segmentation):
    tokens = tokenize(text, segmentation)
    pos = 0
    rebuilt = []
    for tok in tokens:
        gap = text[pos : tok.start]
        assert all(is_edge_forbidden(ch) for ch in gap)  # only whitespace and Cf are skipped
        assert not any(ch in "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\ufeff" for ch in tok.text)
        assert tok.text and text[tok.start : tok.end] == tok.text
        rebuilt += [gap, tok.text]
        pos = tok.end
    rebuilt.append(text[pos:])
    assert "".join(rebuilt) == text


@settings(max_examples=300, deadline=None)
@given(text_and_spans(), st.data())
def test_overlapping_spans_are_never_lost(case, data):
    text, spans = case
    if not spans:
        return
    extra = []
    for span in spans:
        if span.end - span.start > 1 and data.draw(st.booleans()):
            extra.append(make_span(text, span.start, span.end, "LOC", span.id + "x"))
    enc = spans_to_bio(text, spans + extra)
    decoded = bio_to_spans(text, enc.tokens, enc.tags).spans
    # every span is decoded (widened) or reported as unencodable: none is lost
    assert Counter(map(_clean, decoded)) + Counter(_widened(text, enc.unencodable)) == Counter(
        _widened(text, spans + extra))


def scanned_widening(text: str, span: Span, tokens) -> Span:
    """widen_to_tokens written as a scan of every token (what it was before it bisected)."""
    start, end = span.start, span.end
    for tok in tokens:
        if tok.start < start < tok.end:
            start = tok.start
        if tok.start < end < tok.end:
            end = tok.end
    if (start, end) == (span.start, span.end):
        return span
    return Span(start=start, end=end, label=span.label, id=span.id, text=text[start:end])


@settings(max_examples=400, deadline=None)
@given(texts, st.sampled_from(["none", "proclitic-article"]), st.data())
def test_widening_by_bisection_is_the_scan_of_every_token(text, segmentation, data):
    tokens = tokenize(text, segmentation)
    for _ in range(5):  # any offsets, in the text or not, in either order
        start = data.draw(st.integers(-2, len(text) + 2))
        end = data.draw(st.integers(-2, len(text) + 2))
        span = Span(start, end, "PER", "s", text[start:end] if 0 <= start <= end else "")
        assert widen_to_tokens(text, span, tokens) == scanned_widening(text, span, tokens)


@pytest.mark.parametrize(("start", "end"), [(len("وقال الر"), len("وقال الرئيس")), (len("في بغ"), len("في بغداد و")),
                                            (0, len(TEXT)), (len("وقال"), len("وقال "))])
def test_widening_on_crafted_edges(start, end):
    tokens = tokenize(TEXT)
    span = make_span(TEXT, start, end, "PER", "s")
    assert widen_to_tokens(TEXT, span, tokens) == scanned_widening(TEXT, span, tokens)

