"""Normalised text views with exact offset maps both ways.

Models are trained on normalised Arabic text; annotations live on the stored (original) text, which is never
normalised.  A :class:`View` is the text after named normalisation steps together with two integer maps, so
that entity spans can be projected onto the view and a model's predictions on the view mapped back to the
original.  Offsets are Python code points, end-exclusive, on both sides.

Steps (see :data:`STEPS` and docs/views.md) are per-code-point mappings: each code point is deleted, replaced
by one code point, or expanded into several (a ligature).  Whatever order they are listed in, the steps run in
the one canonical order of :data:`STEPS` (ligatures first, since a ligature's letters may carry hamza, harakat
or alef maqsura), composed into one per-code-point table, so a view depends only on the *set* of its steps and
``normalise_text(normalise_text(t, s), s) == normalise_text(t, s)``.

The maps of ``view = normalise(original, steps)``:

* ``view.to_view[i]`` (``len(original) + 1`` entries, non-decreasing) is the length of the view of
  ``original[:i]``;
* ``view.to_original[j]`` (``len(view.text) + 1`` entries, non-decreasing) is the original index of the code
  point whose output holds view character ``j``; ``to_original[len(view.text)] == len(original)``.

The properties they give (tested in tests/test_views.py):

1. For every original span, ``(s, e) = view.span_to_view(start, end)`` selects exactly the view of the span:
   ``view.text[s:e] == normalise_text(original[start:end], steps)``.  It is empty when every character of the
   span is deleted.
2. ``view.span_to_original(*view.span_to_view(start, end)) == (start, end)`` whenever the first and the last
   character of ``original[start:end]`` are kept (not deleted) by the view.  A view span that covers or cuts
   the expansion of one original character maps back to that whole character.
3. When edge characters are deleted (a span that starts with a tatweel or a bidi mark, or ends with a
   diacritic), mapping back gives the span from its first kept character to its last kept character: the
   deleted characters at its edges are left out, the ones inside are kept.

:func:`span_to_original <View.span_to_original>` of a non-empty view span ``(s, e)`` is
``(to_original[s], to_original[e - 1] + 1)``: the smallest original span whose view covers it.  An empty view
span ``(s, s)`` maps to the empty original span ``(to_original[s], to_original[s])``: just before the original
character that produced view character ``s`` (after any characters deleted before it), or the end of the
original text when ``s == len(view.text)``.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from corpus_tools.errors import InputError
from corpus_tools.spans import Document, Relation, Span

STEPS: tuple[str, ...] = (
    "ligatures",
    "bidi",
    "tatweel",
    "diacritics",
    "alef",
    "alef-maqsura",
    "taa-marbuta",
    "digits",
)
"""Every step, in the canonical order in which they always run."""

VIEW_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
"""A view's name (it becomes part of a config name, ``documents-NAME``)."""

ZWNJ = "\u200c"
ZWJ = "\u200d"

PRESENTATION_FORMS: tuple[tuple[int, int], ...] = ((0xFB50, 0xFDFF), (0xFE70, 0xFEFF))
"""Arabic Presentation Forms-A and -B (inclusive ranges): the code points of the ``ligatures`` step."""

FORMAT_CHARACTERS: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD),  # soft hyphen
    (0x0600, 0x0605),  # Arabic number signs (prepended concatenation marks)
    (0x061C, 0x061C),  # ARABIC LETTER MARK
    (0x06DD, 0x06DD),  # ARABIC END OF AYAH
    (0x070F, 0x070F),  # SYRIAC ABBREVIATION MARK
    (0x0890, 0x0891),  # Arabic pound and piastre marks above
    (0x08E2, 0x08E2),  # ARABIC DISPUTED END OF AYAH
    (0x180E, 0x180E),  # MONGOLIAN VOWEL SEPARATOR
    (0x200B, 0x200B),  # ZERO WIDTH SPACE (ZWNJ U+200C and ZWJ U+200D are kept: they are part of words)
    (0x200E, 0x200F),  # LRM, RLM
    (0x202A, 0x202E),  # LRE, RLE, PDF, LRO, RLO
    (0x2060, 0x2064),  # WORD JOINER, invisible operators
    (0x2066, 0x2069),  # LRI, RLI, FSI, PDI
    (0x206A, 0x206F),  # deprecated format characters
    (0xFEFF, 0xFEFF),  # BOM / ZERO WIDTH NO-BREAK SPACE
    (0xFFF9, 0xFFFB),  # interlinear annotation characters
    (0x110BD, 0x110BD),  # KAITHI NUMBER SIGN
    (0x110CD, 0x110CD),  # KAITHI NUMBER SIGN ABOVE
    (0x13430, 0x1343F),  # Egyptian hieroglyph format controls (U+13439-U+1343F since Unicode 15.0)
    (0x1BCA0, 0x1BCA3),  # shorthand format controls
    (0x1D173, 0x1D17A),  # musical symbol format controls
    (0xE0001, 0xE0001),  # LANGUAGE TAG
    (0xE0020, 0xE007F),  # tag characters
)
"""The code points the ``bidi`` step deletes (inclusive ranges): every character of general category Cf in
Unicode 15.1 except ZWNJ and ZWJ.  The set is fixed here, not read from the running Python's Unicode
database, so a view is the same under every supported Python."""

_DIACRITICS = "".join(map(chr, range(0x064B, 0x0653))) + "\u0670"  # harakat, tanwin, shadda, sukun; dagger alef


def _ranges(ranges: Iterable[tuple[int, int]]) -> Iterable[int]:
    for first, last in ranges:
        yield from range(first, last + 1)


def _ligatures() -> dict[int, str]:
    table = {}
    for code in _ranges(PRESENTATION_FORMS):
        folded = unicodedata.normalize("NFKC", chr(code))
        if folded != chr(code):
            table[code] = folded
    return table


_STEP_TABLES: dict[str, dict[int, str]] = {
    "ligatures": _ligatures(),
    "bidi": dict.fromkeys(_ranges(FORMAT_CHARACTERS), ""),
    "tatweel": {0x0640: ""},
    "diacritics": dict.fromkeys(map(ord, _DIACRITICS), ""),
    "alef": dict.fromkeys(map(ord, "\u0623\u0625\u0622\u0671"), "\u0627"),
    "alef-maqsura": {0x0649: "\u064a"},
    "taa-marbuta": {0x0629: "\u0647"},
    "digits": {
        **{0x0660 + d: str(d) for d in range(10)},
        **{0x06F0 + d: str(d) for d in range(10)},
    },
}
"""Each step alone: code point -> its output ("" for a deletion).  Code points not listed are kept."""


class ViewError(InputError):
    """A view or a list of steps cannot be read: an unknown, duplicate or missing step, or a bad view name."""


@dataclass(frozen=True)
class ViewSpec:
    """A named view: ``NAME=step,step``; ``steps`` are in canonical order, without duplicates."""

    name: str
    steps: tuple[str, ...]


def parse_steps(spec: str | Sequence[str]) -> tuple[str, ...]:
    """Steps from ``"tatweel,diacritics"`` or a sequence of names, in canonical order.

    Raises :class:`ViewError` naming the step at fault (unknown, duplicate, empty) and listing the valid ones.
    """
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    valid = ", ".join(STEPS)
    if not names or names == [""]:
        raise ViewError(f"no normalisation steps given; choose from: {valid}")
    seen: set[str] = set()
    for raw in names:
        name = raw.strip() if isinstance(raw, str) else raw
        if not isinstance(name, str) or name not in _STEP_TABLES:
            shown = "an empty step" if name == "" else f"unknown step {name!r}"
            raise ViewError(f"{shown} in {spec!r}; the steps are: {valid}")
        if name in seen:
            raise ViewError(f"step {name!r} is listed twice in {spec!r}; the steps are: {valid}")
        seen.add(name)
    return tuple(step for step in STEPS if step in seen)


def parse_view(spec: str) -> ViewSpec:
    """A view from ``"NAME=step,step"``; NAME matches ``^[a-z0-9][a-z0-9-]{0,39}$``."""
    name, sep, steps = spec.partition("=")
    if not sep:
        raise ViewError(f"a view is NAME=step,step, not {spec!r}")
    if not VIEW_NAME.fullmatch(name):
        raise ViewError(
            f"bad view name {name!r} in {spec!r}: use 1 to 40 lowercase letters, digits or hyphens, starting with a"
            " letter or digit"
        )
    return ViewSpec(name=name, steps=parse_steps(steps))


@functools.cache
def _canonical(steps: str | tuple[str, ...]) -> tuple[str, ...]:
    return parse_steps(steps)


def _steps_of(steps: str | Sequence[str]) -> tuple[str, ...]:
    return _canonical(steps if isinstance(steps, str) else tuple(steps))


@functools.cache
def _composed_table(steps: tuple[str, ...]) -> dict[int, str]:
    """The one ``str.translate`` table of ``steps`` (run in canonical order): each changed code point -> its output.

    Shared by every caller (cached): never modify it.
    """
    singles = [_STEP_TABLES[step] for step in STEPS if step in steps]
    touched = set().union(*(single.keys() for single in singles))
    table = {}
    for code in sorted(touched):
        out = chr(code)
        for single in singles:
            out = "".join(single.get(ord(ch), ch) for ch in out)
        if out != chr(code):
            table[code] = out
    return table


class _Lookup(NamedTuple):
    """The composed table of one steps tuple as arrays indexed by code point."""

    lengths: np.ndarray  # uint8: output length of each code point (0 deleted, 1 kept or replaced, more expanded)
    slots: np.ndarray  # int32: where a changed code point's output starts in ``outputs``; -1 when it is kept
    outputs: np.ndarray  # uint32: the outputs of the changed code points, one after another
    single: np.ndarray  # uint32: the output of each code point whose output is one code point (itself if kept)


@functools.cache
def _lookup(steps: tuple[str, ...]) -> _Lookup:
    lengths = np.ones(0x110000, dtype=np.uint8)
    slots = np.full(0x110000, -1, dtype=np.int32)
    single = np.arange(0x110000, dtype=np.uint32)
    outputs: list[int] = []
    for code, out in _composed_table(steps).items():
        lengths[code] = len(out)
        slots[code] = len(outputs)
        outputs.extend(map(ord, out))
        if len(out) == 1:
            single[code] = ord(out)
    for array in (lengths, slots, single):
        array.flags.writeable = False
    return _Lookup(lengths, slots, np.array(outputs, dtype=np.uint32), single)


def normalise_text(text: str, steps: str | Sequence[str]) -> str:
    """The view text alone (no maps)."""
    return text.translate(_composed_table(_steps_of(steps)))


@dataclass(frozen=True, eq=False)
class View:
    """A text after normalisation steps, with its offset maps (read-only int64 arrays; see the module doc)."""

    original: str
    text: str
    steps: tuple[str, ...]
    to_view: np.ndarray
    to_original: np.ndarray

    def span_to_view(self, start: int, end: int) -> tuple[int, int]:
        """The view span of ``original[start:end]`` (empty when the view deletes every character of it)."""
        if not 0 <= start <= end <= len(self.original):
            raise ValueError(f"span ({start}, {end}) is not inside the original text of length {len(self.original)}")
        return int(self.to_view[start]), int(self.to_view[end])

    def span_to_original(self, start: int, end: int) -> tuple[int, int]:
        """The smallest original span whose view covers ``text[start:end]``; an empty span maps to an empty one."""
        if not 0 <= start <= end <= len(self.text):
            raise ValueError(f"span ({start}, {end}) is not inside the view text of length {len(self.text)}")
        first = int(self.to_original[start])
        if start == end:
            return first, first
        return first, int(self.to_original[end - 1]) + 1


def normalise(text: str, steps: str | Sequence[str]) -> View:
    """``text`` after ``steps`` (any order, run in canonical order), with both offset maps."""
    canonical = _steps_of(steps)
    lookup = _lookup(canonical)
    size = len(text)
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    lengths = lookup.lengths[codes]
    to_view = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(lengths, dtype=np.int64, out=to_view[1:])
    # The view text is built from the same arrays as the maps rather than with str.translate (normalise_text):
    # one pass for text and maps costs a fraction of translate's per-character dict lookups.
    if not (lengths > 1).any():  # nothing expands (no ligature in the text): each kept code point gives one
        sources = np.flatnonzero(lengths)
        view_codes = lookup.single[codes[sources]]
        view_text = view_codes.tobytes().decode("utf-32-le", "surrogatepass")
    else:
        sources = np.repeat(np.arange(size, dtype=np.int64), lengths)
        view_codes = codes[sources]
        slots = lookup.slots[view_codes]
        changed = np.flatnonzero(slots >= 0)
        view_codes[changed] = lookup.outputs[slots[changed] + (changed - to_view[sources[changed]])]
        view_text = view_codes.tobytes().decode("utf-32-le", "surrogatepass")
    to_original = np.append(sources, size)
    to_view.flags.writeable = False
    to_original.flags.writeable = False
    return View(original=text, text=view_text, steps=canonical, to_view=to_view, to_original=to_original)


def project_document(document: Document, view_steps: str | Sequence[str]) -> tuple[Document, list[Span]]:
    """``document`` on its view, and the entities that vanished from it.

    The projected document has the view text; every entity is moved to its view span (with ``text`` taken
    from the view text); relations are kept by span id.  An entity whose view span is empty (every
    character of it deleted) is not in the projected document but in the returned list, and the relations
    whose head or tail is such an entity are dropped with it.  Title, source, dateline and meta are kept.
    """
    view = normalise(document.text, view_steps)
    kept: list[Span] = []
    vanished: list[Span] = []
    for span in document.entities:
        start, end = view.span_to_view(span.start, span.end)
        if start == end:
            vanished.append(span)
        else:
            kept.append(Span(start=start, end=end, label=span.label, id=span.id, text=view.text[start:end]))
    gone = {span.id for span in vanished}
    relations: list[Relation] = [r for r in document.relations if r.head not in gone and r.tail not in gone]
    projected = Document(
        id=document.id,
        text=view.text,
        entities=kept,
        relations=relations,
        title=document.title,
        source=document.source,
        lang=document.lang,
        dateline=document.dateline,
        meta=dict(document.meta),
    )
    return projected, vanished
