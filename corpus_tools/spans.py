"""The core span model and every offset computation, as pure functions.

Offsets are Python code points into the stored text, end-exclusive: for every span,
``text[span.start:span.end] == span.text``.  Stored text is never normalised.

* :class:`Span`, :class:`Relation`, :class:`Document` and their canonical JSON form
  (``schemas/document.schema.json``);
* :func:`tokenize`: the tokens of a text, a function of the text alone (never of its annotations): base
  tokens (words of letters, marks, digits, ZWJ/ZWNJ; or one punctuation/symbol character; whitespace and
  Cf characters are never part of a token) with clitics attached, as ANERcorp and Wojood write them, or,
  with ``segmentation="proclitic-article"``, cut by the documented proclitic + article rule
  (:data:`PROCLITIC_ARTICLE`);
* :func:`spans_to_bio` / :func:`bio_to_spans`: a span whose edge falls inside a token tags the whole token
  (``وبغداد`` is ``B-GPE`` for a span on ``بغداد``) and is counted as *widened*; spans that BIO cannot hold
  (nested in or overlapping another span once widened) are returned as *unencodable*, never dropped silently.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import attrgetter

import regex

from corpus_tools.report import define_code

STAGE = "spans"
BIO_ORPHAN_INSIDE = define_code(
    "bio-orphan-inside",
    "warning",
    "An I- tag follows O or another type; it was read as the start of a new span (conlleval rule).",
    stage=STAGE,
)
BIO_UNENCODABLE = define_code(
    "bio-unencodable-span",
    "warning",
    "A span cannot be written as BIO tags (it overlaps or nests in another span, or its edge is not a"
    " token edge); it stays in the documents config.",
    stage=STAGE,
)
BIO_BAD_TAG = define_code(
    "bio-bad-tag", "error", "A tag is not O, B-<label> or I-<label> for a known label.", stage=STAGE
)

_BASE_TOKEN = regex.compile(r"[\p{L}\p{M}\p{Nd}\u200c\u200d]+|[\p{P}\p{S}]", regex.V1)

TOKENIZER = "corpus-tools-words"
"""The tokenizer's name, recorded with :data:`TOKENIZER_VERSION` and the segmentation in every release."""
TOKENIZER_VERSION = 2
"""2: tokens from the text alone.  (1, before: tokens were also cut at every annotated span edge.)"""
SEGMENTATIONS = ("none", "proclitic-article")
DEFAULT_SEGMENTATION = "none"
SEGMENTATION_RULES = {
    "none": "Clitics stay attached to their word (`وبغداد`, `والرياض` are one token each), as in ANERcorp and"
            " Wojood.",
    "proclitic-article": "A word that starts with proclitics before the article is cut after them (`و|الرياض`,"
                         " `ب|العراق`, `وب|الجيش`), one that starts with the لل contraction after its first lam"
                         " (`ل|لجامعة`), when at least three letters follow the article's lam; other clitics stay"
                         " attached (`وبغداد`).",
}

PROCLITIC_ARTICLE = regex.compile(
    r"(?<![\p{L}\p{M}\p{Nd}\u200c\u200d])"  # at the start of a word
    r"(?:"
    r"(?:[وف]\p{M}*\u0640*(?:[بكل]\p{M}*\u0640*)?|[بك]\p{M}*\u0640*)(?=ال(?:\p{L}\p{M}*){3})"  # و ف ب ك وب فك ... + ال
    r"|(?:[وف]\p{M}*\u0640*)?ل\p{M}*\u0640*(?=ل(?:\p{L}\p{M}*){3})"  # لل: li + al with the alef not written
    r")",
    regex.V1,
)
"""The ``proclitic-article`` segmentation rule: a word that starts with proclitics before the article is cut
after them (``و|الرياض``, ``ب|العراق``, ``وب|الجيش``, ``ف|ال...``, ``ك|ال...``), and one that starts with the
لل contraction is cut after its first lam (``ل|لجامعة``, ``ول|لأمم``), provided at least three letters follow
the article's lam (so ``والد``, ``بالغة``, ``لله`` stay whole).  A proclitic without the article (``وبغداد``)
is not cut: telling it from a root letter needs a lexicon."""


@dataclass(frozen=True, order=True)
class Span:
    """A labelled character span; ``end`` is exclusive."""

    start: int
    end: int
    label: str
    id: str = ""
    text: str = ""

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end

    def contains(self, other: Span) -> bool:
        return self.start <= other.start and other.end <= self.end

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "start": self.start, "end": self.end, "text": self.text, "label": self.label}

    @classmethod
    def from_dict(cls, data: dict) -> Span:
        return cls(start=data["start"], end=data["end"], label=data["label"], id=data.get("id", ""),
                   text=data.get("text", ""))


@dataclass(frozen=True)
class Relation:
    """A directed relation between two spans of one document, by span id (head = ACE Arg-1)."""

    head: str
    tail: str
    label: str
    id: str = ""

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "head": self.head, "tail": self.tail, "label": self.label}

    @classmethod
    def from_dict(cls, data: dict) -> Relation:
        return cls(head=data["head"], tail=data["tail"], label=data["label"], id=data.get("id", ""))


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int


@dataclass
class Document:
    """One annotated article in canonical form (see ``schemas/document.schema.json``)."""

    id: str
    text: str
    entities: list[Span] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    title: str = ""
    source: str = ""
    lang: str = "ar"
    dateline: dict[str, object] | None = None
    meta: dict[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "id": self.id,
            "text": self.text,
            "title": self.title,
            "source": self.source,
            "lang": self.lang,
            "dateline": self.dateline,
            "entities": [s.to_dict() for s in self.entities],
            "relations": [r.to_dict() for r in self.relations],
        }
        if self.meta:
            out["meta"] = self.meta
        return out

    @classmethod
    def from_dict(cls, data: dict) -> Document:
        return cls(
            id=data["id"],
            text=data["text"],
            title=data.get("title", ""),
            source=data.get("source", ""),
            lang=data.get("lang", "ar"),
            dateline=data.get("dateline"),
            entities=[Span.from_dict(s) for s in data.get("entities", [])],
            relations=[Relation.from_dict(r) for r in data.get("relations", [])],
            meta=dict(data.get("meta", {})),
        )


def relation_id(head: str, label: str, tail: str) -> str:
    """The id of a relation read from Label Studio (whose relation items have none): head, label and tail."""
    return f"{head}|{label}|{tail}"


def make_span(text: str, start: int, end: int, label: str, span_id: str = "") -> Span:
    """A span whose ``text`` is taken from the stored text."""
    return Span(start=start, end=end, label=label, id=span_id, text=text[start:end])


def base_tokens(text: str) -> list[Token]:
    """Words (runs of letters, marks, digits, ZWJ/ZWNJ) and single punctuation/symbol characters."""
    return [Token(m.group(), m.start(), m.end()) for m in _BASE_TOKEN.finditer(text)]


def check_segmentation(segmentation: str) -> str:
    """``segmentation`` if it is one of :data:`SEGMENTATIONS`; ValueError otherwise."""
    if segmentation not in SEGMENTATIONS:
        raise ValueError(f"segmentation must be one of {', '.join(SEGMENTATIONS)}, got {segmentation!r}")
    return segmentation


def tokenizer_settings(segmentation: str = DEFAULT_SEGMENTATION) -> dict[str, object]:
    """The tokenizer a release's ``tokens`` were made with, as its manifest and card record it."""
    return {"name": TOKENIZER, "version": TOKENIZER_VERSION, "segmentation": check_segmentation(segmentation)}


def segmentation_cuts(text: str, segmentation: str = DEFAULT_SEGMENTATION) -> list[int]:
    """The offsets where ``segmentation`` cuts a word of ``text`` (none for ``"none"``), ascending."""
    if check_segmentation(segmentation) == "none":
        return []
    return [m.end() for m in PROCLITIC_ARTICLE.finditer(text)]


def tokenize(text: str, segmentation: str = DEFAULT_SEGMENTATION) -> list[Token]:
    """The tokens of ``text``: its base tokens, each cut where the segmentation rule cuts it.

    A function of the text and the segmentation setting alone; a model's input at inference is tokenized
    exactly as the release's ``tokens`` config was.
    """
    cuts = segmentation_cuts(text, segmentation)
    tokens: list[Token] = []
    k = 0
    for tok in base_tokens(text):
        start = tok.start
        while k < len(cuts) and cuts[k] <= tok.start:
            k += 1
        while k < len(cuts) and cuts[k] < tok.end:
            tokens.append(Token(text[start:cuts[k]], start, cuts[k]))
            start = cuts[k]
            k += 1
        tokens.append(Token(text[start:tok.end], start, tok.end))
    return tokens


def select_flat(spans: Sequence[Span]) -> tuple[list[Span], list[Span]]:
    """Split spans into a non-overlapping flat layer (outermost, earliest first) and the rest."""
    flat: list[Span] = []
    rest: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start, -(s.end - s.start), s.label, s.id)):
        if flat and flat[-1].end > span.start:
            rest.append(span)
        else:
            flat.append(span)
    return flat, rest


@dataclass
class BioEncoding:
    tokens: list[Token]
    tags: list[str]
    unencodable: list[Span]  # the spans given, as given, that BIO cannot hold
    widened: list[Span] = field(default_factory=list)  # the spans given whose edge fell inside a token


_START = attrgetter("start")


def widen_to_tokens(text: str, span: Span, tokens: Sequence[Token]) -> Span:
    """``span`` widened to the whole tokens its edges fall inside (id and label kept, text recomputed);
    ``tokens`` in text order, as :func:`tokenize` gives them (each edge is looked up by bisection)."""
    start, end = span.start, span.end
    i = bisect_left(tokens, start, key=_START) - 1  # the last token starting before the start
    if i >= 0 and tokens[i].end > start:
        start = tokens[i].start
    i = bisect_left(tokens, end, key=_START) - 1
    if i >= 0 and tokens[i].end > end:
        end = tokens[i].end
    if (start, end) == (span.start, span.end):
        return span
    return Span(start=start, end=end, label=span.label, id=span.id, text=text[start:end])


def spans_to_bio(text: str, spans: Sequence[Span], segmentation: str = DEFAULT_SEGMENTATION, *,
                 tokens: Sequence[Token] | None = None) -> BioEncoding:
    """Tokenize ``text`` (from the text alone) and tag it with BIO.

    A span whose edge falls inside a token tags the whole token (it is listed in ``widened``); spans that,
    once widened, nest in or overlap an earlier, longer span, or do not start and end on tokens (a span of
    whitespace), are returned as given in ``unencodable``.  ``tokens``: the text's tokens when the caller has
    them already (``tokenize(text, segmentation)``, or the bulk :func:`corpus_tools.tokens.token_bounds`).
    """
    tokens = list(tokens) if tokens is not None else tokenize(text, segmentation)
    wide = [widen_to_tokens(text, span, tokens) for span in spans]
    given = {id(w): s for w, s in zip(wide, spans, strict=True)}
    widened = [s for w, s in zip(wide, spans, strict=True) if w is not s]
    flat, unencodable = select_flat(wide)
    tags = ["O"] * len(tokens)
    starts = {t.start: i for i, t in enumerate(tokens)}
    ends = {t.end: i for i, t in enumerate(tokens)}
    for span in flat:
        first, last = starts.get(span.start), ends.get(span.end)
        if first is None or last is None or last < first:
            unencodable.append(span)
            continue
        tags[first] = f"B-{span.label}"
        for i in range(first + 1, last + 1):
            tags[i] = f"I-{span.label}"
    unencodable.sort(key=lambda s: (s.start, s.end, s.label, s.id))
    return BioEncoding(tokens, tags, [given[id(s)] for s in unencodable], widened)


@dataclass
class BioDecoding:
    spans: list[Span]
    orphans: list[int]  # token indices of I- tags that started a new span
    bad_tags: list[int]  # token indices of tags that are not O/B-X/I-X


def bio_to_spans(text: str, tokens: Sequence[Token], tags: Sequence[str]) -> BioDecoding:
    """Decode BIO tags over tokens with offsets into spans of ``text`` (conlleval rules)."""
    if len(tokens) != len(tags):
        raise ValueError(f"{len(tokens)} tokens but {len(tags)} tags")
    spans: list[Span] = []
    orphans: list[int] = []
    bad: list[int] = []
    open_label: str | None = None
    open_start = open_end = 0

    def close() -> None:
        if open_label is not None:
            spans.append(make_span(text, open_start, open_end, open_label))

    for i, (tok, tag) in enumerate(zip(tokens, tags, strict=True)):
        prefix, _, label = tag.partition("-")
        if tag == "O" or prefix not in ("B", "I") or not label:
            if tag != "O":
                bad.append(i)
            close()
            open_label = None
            continue
        if prefix == "I" and open_label == label:
            open_end = tok.end
            continue
        if prefix == "I":
            orphans.append(i)
        close()
        open_label, open_start, open_end = label, tok.start, tok.end
    close()
    return BioDecoding(spans, orphans, bad)
