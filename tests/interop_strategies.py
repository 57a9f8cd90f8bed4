"""Hypothesis strategies for the interop round trips: documents over Arabic-ish text with harakat, tatweel,
emoji (astral, flags, ZWJ sequences), CRLF and RLM (U+200F), with RLM and tatweel at span edges, nested and
overlapping spans, relations.

Each generated document comes with its expectation built independently of any slicing: the text of every span
is the piece the strategy put there, so a reader that gets offsets wrong is caught even when it is
consistent with its writer.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

from corpus_tools.spans import Document, Relation, Span

LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهويةىءأإآ"
HARAKAT = "\u064e\u064f\u0650\u0651\u0652"
TATWEEL = "\u0640"
RLM = "\u200f"
EMOJI = ["😀", "🇫🇷", "👨\u200d👩\u200d👧", "✈️"]
SEPARATORS = [" ", " ", "\r\n", "، ", f" {RLM}", f"{RLM} ", " 😀 ", " 🇫🇷 ", ". ", "  "]
LABELS = ["PER", "ORG", "GPE", "LOC", "ميدان", "B.X"]


@dataclass
class Expected:
    document: Document
    pieces: dict[str, str]  # span id -> the text the strategy put there


@st.composite
def words(draw) -> str:
    letters = draw(st.lists(st.sampled_from(LETTERS), min_size=1, max_size=6))
    out = ""
    for letter in letters:
        out += letter + draw(st.sampled_from(["", "", "", *HARAKAT, TATWEEL]))
    return out


@st.composite
def mentions(draw) -> list[str]:
    """The words of a mention; its first or last word may carry an RLM or a tatweel at the span edge."""
    parts = draw(st.lists(st.one_of(words(), st.sampled_from(EMOJI)), min_size=1, max_size=3))
    if draw(st.booleans()):
        parts[0] = draw(st.sampled_from([RLM, TATWEEL, "😀"])) + parts[0]
    if draw(st.booleans()):
        parts[-1] = parts[-1] + draw(st.sampled_from([RLM, TATWEEL, "🇫🇷"]))
    return parts


@st.composite
def documents(draw, doc_id: str | None = None) -> Expected:
    text = draw(st.sampled_from(["", "😀 ", "\r\n", RLM]))
    spans: list[Span] = []
    pieces: dict[str, str] = {}
    previous: tuple[Span, str] | None = None  # the last mention and the text written after it
    for k in range(draw(st.integers(0, 5))):
        gap = " ".join(draw(st.lists(words(), max_size=2))) + draw(st.sampled_from(SEPARATORS))
        text += gap
        if previous is not None:
            previous = (previous[0], previous[1] + gap)
        parts = draw(mentions())
        start = len(text)
        mention = " ".join(parts)
        text += mention
        span_id = draw(st.sampled_from([f"T{k + 1}", f"s{k}", f"{k + 1}", f"ك{k}"]))
        span = Span(start, len(text), draw(st.sampled_from(LABELS)), span_id, mention)
        spans.append(span)
        pieces[span_id] = mention
        if len(parts) > 1 and draw(st.booleans()):  # nested: its first word
            inner_id = f"{span_id}n"
            spans.append(Span(start, start + len(parts[0]), draw(st.sampled_from(LABELS)), inner_id, parts[0]))
            pieces[inner_id] = parts[0]
        if previous is not None and draw(st.booleans()):  # overlapping: last character of the previous mention
            before, between = previous  # to the first character of this one
            piece = before.text[-1] + between + mention[0]
            spans.append(Span(before.end - 1, start + 1, "LOC", f"{span_id}o", piece))
            pieces[f"{span_id}o"] = piece
        after = draw(st.sampled_from(SEPARATORS))
        text += after
        previous = (span, after)
    relations: list[Relation] = []
    if len(spans) >= 2:
        for j in range(draw(st.integers(0, 3))):
            head, tail = draw(st.sampled_from(spans)), draw(st.sampled_from(spans))
            relations.append(Relation(head.id, tail.id, draw(st.sampled_from(["works_for", "located_in", "عضو"])),
                                      draw(st.sampled_from([f"R{j + 1}", ""]))))
    dateline = draw(st.sampled_from([None, {"text": "بغداد - ", "places": ["بغداد"], "paper": None,
                                            "agencies": ["واع"]}]))
    meta = draw(st.sampled_from([{}, {"model_version": "v1", "score": 0.5}, {"note": "ملاحظة 😀"}]))
    document = Document(
        id=doc_id or draw(st.sampled_from(["art-1", "مقال-٢", "doc 3", "4"])),
        text=text, entities=spans, relations=relations,
        title=draw(st.sampled_from(["", "عنوان 😀", "Title\r\nline"])), source=draw(st.sampled_from(["", "الوطن"])),
        lang=draw(st.sampled_from(["ar", "ar-IQ"])), dateline=dateline, meta=meta,
    )
    return Expected(document, pieces)


@st.composite
def corpora(draw) -> list[Expected]:
    count = draw(st.integers(1, 3))
    return [draw(documents(doc_id=f"doc-{i}")) for i in range(count)]


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
