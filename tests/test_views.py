"""Normalised views and their offset maps, against a readable reference written here step by step."""

from __future__ import annotations

import itertools
import re
import unicodedata

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corpus_tools.errors import InputError
from corpus_tools.spans import Document, Relation, Span
from corpus_tools.views import (
    FORMAT_CHARACTERS,
    STEPS,
    ViewError,
    ViewSpec,
    _composed_table,
    normalise,
    normalise_text,
    parse_steps,
    parse_view,
    project_document,
)

CANONICAL = ["ligatures", "bidi", "tatweel", "diacritics", "alef", "alef-maqsura", "taa-marbuta", "digits"]


def _presentation_form(ch: str) -> bool:
    return "\ufb50" <= ch <= "\ufdff" or "\ufe70" <= ch <= "\ufeff"


def _format(ch: str) -> bool:
    """Category Cf in Unicode 15.1 (U+13439-U+1343F became Cf in 15.0, after the Unicode of Python 3.11)."""
    return unicodedata.category(ch) == "Cf" or "\U00013439" <= ch <= "\U0001343f"


REFERENCE = {
    "ligatures": lambda t: "".join(unicodedata.normalize("NFKC", c) if _presentation_form(c) else c for c in t),
    "bidi": lambda t: "".join(c for c in t if not _format(c) or c in "\u200c\u200d"),
    "tatweel": lambda t: t.replace("\u0640", ""),
    "diacritics": lambda t: re.sub("[\u064b-\u0652\u0670]", "", t),
    "alef": lambda t: re.sub("[\u0623\u0625\u0622\u0671]", "\u0627", t),
    "alef-maqsura": lambda t: t.replace("\u0649", "\u064a"),
    "taa-marbuta": lambda t: t.replace("\u0629", "\u0647"),
    "digits": lambda t: "".join(
        str(unicodedata.digit(c)) if "\u0660" <= c <= "\u0669" or "\u06f0" <= c <= "\u06f9" else c for c in t
    ),
}


def reference_text(text: str, steps) -> str:
    for step in CANONICAL:
        if step in steps:
            text = REFERENCE[step](text)
    return text


def reference_maps(text: str, steps) -> tuple[list[int], list[int]]:
    pieces = [reference_text(ch, steps) for ch in text]
    to_view = [0]
    to_original = []
    for i, piece in enumerate(pieces):
        to_view.append(to_view[-1] + len(piece))
        to_original += [i] * len(piece)
    return to_view, to_original + [len(text)]


def kept(text: str, steps, i: int) -> bool:
    return reference_text(text[i], steps) != ""


CHARS = (
    "".join(map(chr, range(0x0621, 0x064B)))  # Arabic letters (with tatweel, alef variants, ى, ة)
    + "".join(map(chr, range(0x064B, 0x0653))) + "\u0670"  # harakat, tanwin, shadda, sukun, dagger alef
    + "\u0671"  # alef wasla
    + "٠١٢٣٤٥٦٧٨٩" + "۰۱۲۳۴۵۶۷۸۹"  # Arabic-Indic and Persian digits
    + "\ufefb\ufef7\ufdfa\ufe8d\ufe70\ufc5e\ufeff"  # presentation forms (lam-alef, ﷺ, isolated forms, BOM)
    + "\u200f\u202b\u2067\u2069\u061c\u200e\u00ad"  # bidi marks and other Cf
    + "\u200c\u200d"  # ZWNJ, ZWJ
    + " \t\n" + "abcXYZ019.,؟،" + "😀"
)
PIECE = st.one_of(st.sampled_from(CHARS), st.sampled_from(["\r\n", "👨\u200d👩\u200d👧", "🇸🇦"]))
arabic_text = st.lists(PIECE, max_size=40).map("".join)
step_lists = st.lists(st.sampled_from(STEPS), min_size=1, unique=True)  # any listing order


@st.composite
def text_and_span(draw):
    text = draw(arabic_text)
    start = draw(st.integers(0, len(text)))
    return text, start, draw(st.integers(start, len(text)))


# --- the view and its maps equal the reference ------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(arabic_text, step_lists)
def test_view_equals_the_reference(text, steps):
    view = normalise(text, steps)
    expected_to_view, expected_to_original = reference_maps(text, steps)
    assert view.text == reference_text(text, steps)
    assert "".join(reference_text(ch, steps) for ch in text) == view.text  # every step is per code point
    assert normalise_text(text, steps) == view.text
    assert view.original == text
    assert view.steps == tuple(s for s in CANONICAL if s in steps)
    assert view.to_view.dtype == np.int64 and view.to_original.dtype == np.int64
    assert view.to_view.tolist() == expected_to_view
    assert view.to_original.tolist() == expected_to_original


@settings(max_examples=200, deadline=None)
@given(arabic_text, step_lists, st.randoms())
def test_listing_order_never_matters(text, steps, random):
    shuffled = list(steps)
    random.shuffle(shuffled)
    one, other = normalise(text, steps), normalise(text, ",".join(shuffled))
    assert one.steps == other.steps
    assert one.text == other.text
    assert one.to_view.tolist() == other.to_view.tolist()
    assert one.to_original.tolist() == other.to_original.tolist()


@settings(max_examples=200, deadline=None)
@given(arabic_text, step_lists)
def test_steps_one_at_a_time_in_canonical_order_equal_all_together(text, steps):
    together = normalise(text, steps)
    current = text
    to_view = np.arange(len(text) + 1)
    to_original = np.arange(len(text) + 1)
    for step in [s for s in CANONICAL if s in steps]:
        view = normalise(current, [step])
        to_view = view.to_view[to_view]
        to_original = np.append(to_original[view.to_original[:-1]], len(text))
        current = view.text
    assert together.text == current
    assert together.to_view.tolist() == to_view.tolist()
    assert together.to_original.tolist() == to_original.tolist()


@settings(max_examples=200, deadline=None)
@given(arabic_text, step_lists)
def test_normalise_is_idempotent(text, steps):
    once = normalise(text, steps)
    twice = normalise(once.text, steps)
    assert twice.text == once.text
    assert twice.to_view.tolist() == list(range(len(once.text) + 1))
    assert twice.to_original.tolist() == list(range(len(once.text) + 1))


@pytest.mark.parametrize("size", range(1, len(STEPS) + 1))
def test_every_composed_table_is_idempotent_per_code_point(size):
    for steps in itertools.combinations(STEPS, size):
        table = _composed_table(steps)
        assert table
        for code, out in table.items():
            assert out.translate(table) == out, (steps, hex(code), out)
            assert out == reference_text(chr(code), steps), (steps, hex(code))
            assert len(out) < 256  # the output lengths are held in uint8


@settings(max_examples=300, deadline=None)
@given(arabic_text, step_lists)
def test_maps_are_monotone_and_consistent(text, steps):
    view = normalise(text, steps)
    to_view, to_original = view.to_view.tolist(), view.to_original.tolist()
    assert len(to_view) == len(text) + 1 and to_view[0] == 0 and to_view[-1] == len(view.text)
    assert len(to_original) == len(view.text) + 1 and to_original[-1] == len(text)
    assert all(a <= b for a, b in itertools.pairwise(to_view))
    assert all(a <= b for a, b in itertools.pairwise(to_original))
    for i in range(len(text)):
        produced = range(to_view[i], to_view[i + 1])
        assert (len(produced) > 0) == kept(text, steps, i)
        assert all(to_original[j] == i for j in produced)


# --- the three properties of the maps ------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(text_and_span(), step_lists)
def test_property_1_the_view_of_a_span_is_the_span_normalised(case, steps):
    text, start, end = case
    view = normalise(text, steps)
    view_start, view_end = view.span_to_view(start, end)
    assert view.text[view_start:view_end] == normalise_text(text[start:end], steps)
    assert (view_start == view_end) == (not any(kept(text, steps, i) for i in range(start, end)))


@settings(max_examples=400, deadline=None)
@given(text_and_span(), step_lists)
def test_property_2_spans_with_kept_edges_map_back_exactly(case, steps):
    text, start, end = case
    view = normalise(text, steps)
    if start < end and kept(text, steps, start) and kept(text, steps, end - 1):
        assert view.span_to_original(*view.span_to_view(start, end)) == (start, end)


@settings(max_examples=400, deadline=None)
@given(text_and_span(), step_lists)
def test_property_3_deleted_edge_characters_are_left_out(case, steps):
    text, start, end = case
    view = normalise(text, steps)
    view_start, view_end = view.span_to_view(start, end)
    kept_chars = [i for i in range(start, end) if kept(text, steps, i)]
    if kept_chars:
        assert view.span_to_original(view_start, view_end) == (kept_chars[0], kept_chars[-1] + 1)
    else:
        assert view_start == view_end


@settings(max_examples=300, deadline=None)
@given(arabic_text, step_lists, st.data())
def test_view_spans_map_back_to_the_smallest_original_span_covering_them(text, steps, data):
    view = normalise(text, steps)
    start = data.draw(st.integers(0, len(view.text)))
    end = data.draw(st.integers(start, len(view.text)))
    original_start, original_end = view.span_to_original(start, end)
    if start == end:
        assert original_start == original_end == view.to_original[start]
        return
    covering_start, covering_end = view.span_to_view(original_start, original_end)
    assert covering_start <= start and end <= covering_end
    # widened only to the whole outputs of its first and last characters (an expansion is never cut)
    assert kept(text, steps, original_start) and kept(text, steps, original_end - 1)
    assert view.span_to_original(covering_start, covering_end) == (original_start, original_end)


# --- examples with expectations written by hand --------------------------------------------------------------


def test_lam_alef_ligature_expands_and_maps_back_whole():
    text = "قال ﻻ شيء"
    view = normalise(text, "ligatures")
    assert view.text == "قال لا شيء"
    assert view.span_to_view(len("قال "), len("قال ﻻ")) == (len("قال "), len("قال لا"))
    whole = (len("قال "), len("قال ﻻ"))
    assert view.span_to_original(len("قال "), len("قال لا")) == whole
    assert view.span_to_original(len("قال "), len("قال ل")) == whole  # the first half of the expansion
    assert view.span_to_original(len("قال ل"), len("قال لا")) == whole  # the second half
    assert view.span_to_original(len("قال ل"), len("قال ل")) == (len("قال "), len("قال "))  # empty, inside it
    assert view.span_to_original(len("قال لا شيء"), len("قال لا شيء")) == (len(text), len(text))
    assert view.span_to_view(len("قال ﻻ "), len(text)) == (len("قال لا "), len("قال لا شيء"))


def test_ligatures_come_before_the_letter_steps():
    assert normalise_text("\ufef7", "ligatures") == "لأ"  # LAM WITH ALEF WITH HAMZA ABOVE ISOLATED FORM
    assert normalise_text("\ufef7", "alef") == "\ufef7"
    assert normalise_text("\ufef7", "alef,ligatures") == "لا"
    assert normalise_text("\ufdfa", "ligatures") == "صلى الله عليه وسلم"
    assert normalise_text("\ufdfa", "alef-maqsura,ligatures") == "صلي الله عليه وسلم"
    assert normalise_text("\ufe8d", "ligatures") == "ا"  # ALEF ISOLATED FORM
    assert normalise_text("\ufe70", "ligatures") == " \u064b"  # FATHATAN ISOLATED FORM
    assert normalise_text("\ufe70", "ligatures,diacritics") == " "
    assert normalise_text("\ufeff", "ligatures") == "\ufeff"  # NFKC of the BOM is itself
    assert normalise_text("\ufeff", "bidi") == ""


def test_a_span_starting_with_tatweels_maps_back_without_them():
    text = "قال ـــمحمد ذلك"
    view = normalise(text, ["tatweel"])
    assert view.text == "قال محمد ذلك"
    view_span = view.span_to_view(len("قال "), len("قال ـــمحمد"))
    assert view_span == (len("قال "), len("قال محمد"))
    assert view.span_to_original(*view_span) == (len("قال ـــ"), len("قال ـــمحمد"))


def test_a_tatweel_inside_a_word_stays_inside_the_span_mapped_back():
    text = "الـرئيس"
    view = normalise(text, ["tatweel"])
    assert view.text == "الرئيس"
    assert view.span_to_original(0, len("الرئيس")) == (0, len(text))
    assert view.span_to_original(len("ال"), len("ال")) == (len("الـ"), len("الـ"))  # after the deleted tatweel


def test_diacritics_inside_a_name_and_a_final_tanwin():
    text = "قالَ مُحَمَّدٌ إنَّ"
    view = normalise(text, "diacritics")
    assert view.text == "قال محمد إن"
    name = (len("قالَ "), len("قالَ مُحَمَّدٌ"))
    assert view.span_to_view(*name) == (len("قال "), len("قال محمد"))
    # the final tanwin is deleted, so the span mapped back ends before it; the harakat inside are kept
    assert view.span_to_original(len("قال "), len("قال محمد")) == (len("قالَ "), len("قالَ مُحَمَّد"))
    # a view span starting after م starts after its deleted damma too
    assert view.span_to_original(len("قال م"), len("قال محم")) == (len("قالَ مُ"), len("قالَ مُحَم"))


def test_bidi_marks_at_the_edges_are_left_out_and_zwnj_zwj_kept():
    text = "قال \u200fمحمد\u200f اليوم"
    view = normalise(text, "bidi")
    assert view.text == "قال محمد اليوم"
    assert view.span_to_view(len("قال "), len("قال \u200fمحمد\u200f")) == (len("قال "), len("قال محمد"))
    assert view.span_to_original(len("قال "), len("قال محمد")) == (len("قال \u200f"), len("قال \u200fمحمد"))
    assert normalise_text("می\u200cخواهم 👨\u200d👩\u200d👧", "bidi") == "می\u200cخواهم 👨\u200d👩\u200d👧"
    assert normalise_text("\u202bنص\u202c \u2067نص\u2069 \u061c\u200e\u00ad", "bidi") == "نص نص "


def test_digits():
    text = "عام ١٩٩٠ و۲۰۲۴"
    view = normalise(text, "digits")
    assert view.text == "عام 1990 و2024"
    assert view.span_to_view(len("عام ١٩٩٠ و"), len(text)) == (len("عام 1990 و"), len("عام 1990 و2024"))
    assert view.to_view.tolist() == list(range(len(text) + 1))  # replacements keep every offset


def test_alef_variants_alef_maqsura_and_taa_marbuta():
    text = "أحمد وإبراهيم وآمنة ٱلله مصطفى"
    assert normalise_text(text, "alef") == "احمد وابراهيم وامنة الله مصطفى"
    assert normalise_text(text, "alef,taa-marbuta,alef-maqsura") == "احمد وابراهيم وامنه الله مصطفي"
    view = normalise(text, "alef")
    name = (len("أحمد و"), len("أحمد وإبراهيم"))
    assert view.span_to_view(*name) == name
    assert view.span_to_original(*name) == name


def test_a_span_of_deleted_characters_only_is_empty_on_the_view():
    text = "محمد ـ علي"
    view = normalise(text, "tatweel")
    assert view.span_to_view(len("محمد "), len("محمد ـ")) == (len("محمد "), len("محمد "))
    # an empty view span maps to the empty original span before the character of the view that follows it
    assert view.span_to_original(len("محمد "), len("محمد ")) == (len("محمد ـ"), len("محمد ـ"))


def test_lone_surrogates_pass_through():
    text = "أ\ud83dب"
    view = normalise(text, "alef")
    assert view.text == "ا\ud83dب"
    assert view.to_original.tolist() == [0, 1, 2, 3]


def test_spans_outside_the_text_are_refused():
    view = normalise("ـمحمد", "tatweel")
    for start, end in ((-1, 2), (2, 1), (0, len("ـمحمد") + 1)):
        with pytest.raises(ValueError, match="not inside the original text"):
            view.span_to_view(start, end)
    with pytest.raises(ValueError, match="not inside the view text"):
        view.span_to_original(0, len("محمد") + 1)


def test_the_view_maps_are_read_only():
    view = normalise("ـمحمد", "tatweel")
    with pytest.raises(ValueError, match="read-only"):
        view.to_view[0] = 1
    with pytest.raises(ValueError, match="read-only"):
        view.to_original[0] = 1


def test_format_characters_are_every_cf_but_zwnj_and_zwj():
    pinned = {c for first, last in FORMAT_CHARACTERS for c in range(first, last + 1)}
    cf = {c for c in range(0x110000) if unicodedata.category(chr(c)) == "Cf"}
    assert cf - pinned == {0x200C, 0x200D}
    assert {unicodedata.category(chr(c)) for c in pinned - cf} <= {"Cn"}  # assigned by a later Unicode version
    bidi_controls = [0x200E, 0x200F, 0x061C, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
    assert set(bidi_controls) <= pinned


# --- documents ---------------------------------------------------------------------------------------------------


def test_project_document_keeps_relations_and_drops_vanished_spans():
    text = "وصل مُحَمَّدٌ إلى بغداد ـ أمس"
    person = Span(len("وصل "), len("وصل مُحَمَّدٌ"), "PER", "T1", "مُحَمَّدٌ")
    city = Span(len("وصل مُحَمَّدٌ إلى "), len("وصل مُحَمَّدٌ إلى بغداد"), "LOC", "T2", "بغداد")
    stroke = Span(len("وصل مُحَمَّدٌ إلى بغداد "), len("وصل مُحَمَّدٌ إلى بغداد ـ"), "MISC", "T3", "ـ")
    document = Document(
        id="d1",
        text=text,
        entities=[person, city, stroke],
        relations=[Relation("T1", "T2", "located-in", "R1"), Relation("T3", "T2", "part-of", "R2")],
        title="عنوان",
        source="وكالة",
        meta={"k": 1},
    )
    projected, vanished = project_document(document, "diacritics,tatweel,alef")
    assert projected.text == "وصل محمد الى بغداد  امس"
    assert projected.entities == [
        Span(len("وصل "), len("وصل محمد"), "PER", "T1", "محمد"),
        Span(len("وصل محمد الى "), len("وصل محمد الى بغداد"), "LOC", "T2", "بغداد"),
    ]
    assert projected.relations == [Relation("T1", "T2", "located-in", "R1")]
    assert vanished == [stroke]
    assert (projected.id, projected.title, projected.source, projected.meta) == ("d1", "عنوان", "وكالة", {"k": 1})
    assert document.text == text and len(document.entities) == 3  # the input is left as it was


# --- errors --------------------------------------------------------------------------------------------------------


def test_parse_steps_puts_them_in_canonical_order():
    assert parse_steps("diacritics, tatweel") == ("tatweel", "diacritics")
    assert parse_steps(["digits", "ligatures"]) == ("ligatures", "digits")
    assert STEPS == tuple(CANONICAL)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("tatweel,harakat", "unknown step 'harakat'"),
        (["alef", "Alef"], "unknown step 'Alef'"),
        ("", "no normalisation steps given"),
        ([], "no normalisation steps given"),
        ("tatweel,,alef", "an empty step"),
        ("alef,tatweel,alef", "step 'alef' is listed twice"),
        (["digits", " digits"], "step 'digits' is listed twice"),
    ],
)
def test_bad_steps_are_refused_naming_the_step_and_the_valid_ones(spec, message):
    with pytest.raises(ViewError, match=re.escape(message)) as caught:
        parse_steps(spec)
    assert isinstance(caught.value, InputError)
    if "no normalisation" not in message:
        assert all(step in str(caught.value) for step in STEPS)


def test_normalise_refuses_unknown_steps():
    with pytest.raises(ViewError, match="unknown step 'nfkc'"):
        normalise("نص", ["nfkc"])
    with pytest.raises(ViewError, match="unknown step 'nfkc'"):
        normalise_text("نص", "nfkc")


def test_parse_view():
    assert parse_view("ml-1=digits,alef") == ViewSpec("ml-1", ("alef", "digits"))
    assert parse_view("0" + "a" * 39 + "=bidi") == ViewSpec("0" + "a" * 39, ("bidi",))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("Bare=alef", "bad view name 'Bare'"),
        ("-x=alef", "bad view name '-x'"),
        ("a_b=alef", "bad view name 'a_b'"),
        ("a" * 41 + "=alef", "bad view name"),
        ("=alef", "bad view name ''"),
        ("alef", "a view is NAME=step,step"),
        ("ml=", "no normalisation steps given"),
        ("ml=alef,foo", "unknown step 'foo'"),
    ],
)
def test_bad_views_are_refused(spec, message):
    with pytest.raises(ViewError, match=re.escape(message)):
        parse_view(spec)


def test_the_example_of_the_docs_page_prints_the_original_spans(repo_root, capsys):
    page = (repo_root / "docs" / "views.md").read_text(encoding="utf-8")
    example = page.split("## Mapping a model's predictions back")[1].split("```python\n")[1].split("```")[0]
    exec(compile(example, "docs/views.md", "exec"), {})
    assert capsys.readouterr().out == "PER مُحَمَّد\nLOC بغداد\n"
