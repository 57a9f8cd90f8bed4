"""The BIO encoding of :func:`corpus_tools.spans.spans_to_bio`, as plain lists, for bulk export.

:func:`encode_bio` returns exactly what ``spans_to_bio`` computes (same tokens, offsets, tags and
unencodable spans; a property test holds them equal) but builds no ``Token`` objects, which
made ``spans_to_bio`` the slowest step of a release build (about 1.6 ms for a 2,000-character
article).  Base tokens come from a per-code-point class table (:func:`char_classes`, derived from
the tokenizer's own pattern) and numpy, not from one match object per token: about 0.06 ms for
the same article against 0.3 ms with ``finditer``.

:func:`whole_token_spans` implements the whole-token compatibility mode (``span_mode:
whole-token``): every span is widened to the whole base tokens it touches, so a proclitic
stays inside the entity token (``وبيروت`` tagged B-GPE), as in ANERcorp and Wojood.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import regex

from corpus_tools.spans import _BASE_TOKEN, Span, select_flat

SPAN_MODES = ("exact", "whole-token")
_OTHER, _WORD, _PUNCT = 0, 1, 2


@dataclass
class BioLists:
    tokens: list[str]
    starts: list[int]
    ends: list[int]
    tags: list[str]
    unencodable: list[Span]


@cache
def char_classes() -> np.ndarray:
    """The class of every code point under the tokenizer's pattern: 1 word, 2 punctuation, 0 neither.

    Built (about 0.1 s) by running the two alternatives of :data:`corpus_tools.spans._BASE_TOKEN` over a
    string of all code points, so it agrees with ``base_tokens`` by construction for every text.  Kept in
    the cache folder (:func:`corpus_tools.features.cache_dir`, 1.1 MB) under a key of the pattern and
    the ``regex`` version (whose Unicode tables decide the classes), with its sha256, so later processes load
    it in a few milliseconds; a missing or damaged file is built again.
    """
    from corpus_tools.features import cache_dir, write_cache_file

    key = hashlib.sha256(f"{_BASE_TOKEN.pattern}\0{_BASE_TOKEN.flags}\0{regex.__version__}".encode()).hexdigest()
    path = cache_dir() / f"char-classes-{key[:32]}.u8"
    try:
        data = path.read_bytes()  # the table, then its sha256
        if len(data) == 0x110000 + 32 and hashlib.sha256(data[:0x110000]).digest() == data[0x110000:]:
            return np.frombuffer(data, dtype=np.uint8, count=0x110000).copy()
    except OSError:
        pass
    table = _build_char_classes()
    write_cache_file(path, table.tobytes() + hashlib.sha256(table.tobytes()).digest())
    return table


def _build_char_classes() -> np.ndarray:
    word, punct = _BASE_TOKEN.pattern.split("|")
    everything = np.arange(0x110000, dtype="<u4").tobytes().decode("utf-32-le", "surrogatepass")
    table = np.zeros(0x110000, dtype=np.uint8)
    for pattern, value in ((word, _WORD), (punct + "+", _PUNCT)):
        for match in regex.finditer(pattern, everything, flags=_BASE_TOKEN.flags):
            table[match.start():match.end()] = value
    return table


def code_points(text: str) -> np.ndarray:
    """The code points of ``text`` as an array (lone surrogates kept as their values)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def base_offset_arrays(text: str, codes: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Start and end offsets of the base tokens as arrays: runs of word characters, single punctuation.

    This is what ``_BASE_TOKEN.finditer`` matches (its word alternative is greedy and the two classes
    are disjoint), computed from one table look-up per character instead of one match object per token.
    """
    classes = char_classes()[code_points(text) if codes is None else codes]
    word = classes == _WORD
    punct = classes == _PUNCT
    before = np.zeros_like(word)
    before[1:] = word[:-1]
    after = np.zeros_like(word)
    after[:-1] = word[1:]
    starts = np.flatnonzero((word & ~before) | punct)
    ends = np.flatnonzero((word & ~after) | punct) + 1
    return starts, ends


def base_offsets(text: str) -> tuple[list[int], list[int]]:
    """Start and end offsets of the base tokens (before span-driven splitting)."""
    starts, ends = base_offset_arrays(text)
    return starts.tolist(), ends.tolist()


@dataclass
class BioArrays:
    """:func:`encode_bio_arrays`: token offsets and tag ids as arrays, plus what bulk writers need."""

    codes: np.ndarray  # code points of the text
    starts: np.ndarray
    ends: np.ndarray
    tags: np.ndarray  # tag ids
    unencodable: list[Span]


def encode_bio_arrays(text: str, spans: Sequence[Span], tag_ids: Mapping[str, int]) -> BioArrays:
    """:func:`encode_bio` with ``tag_ids``, as arrays (no per-token Python objects)."""
    flat, unencodable = select_flat(spans)
    codes = code_points(text)
    starts, ends = base_offset_arrays(text, codes)
    # Cut tokens at span edges strictly inside them (several cuts in one token split it several times).
    edges = {s.start for s in spans} | {s.end for s in spans}
    if edges and len(starts):
        cuts = np.fromiter(edges, dtype=np.int64, count=len(edges))
        at = np.searchsorted(starts, cuts, side="right") - 1
        cuts = cuts[(at >= 0) & (starts[at] < cuts) & (cuts < ends[at])]
        if len(cuts):
            starts = np.sort(np.concatenate([starts, cuts]))
            ends = np.sort(np.concatenate([ends, cuts]))
    tags = np.full(len(starts), tag_ids["O"], dtype=np.int64)
    if flat:
        n = len(starts)
        firsts = np.searchsorted(starts, [s.start for s in flat]).tolist()
        lasts = np.searchsorted(ends, [s.end for s in flat]).tolist()
        for span, first, last in zip(flat, firsts, lasts, strict=True):
            if first >= n or starts[first] != span.start or last >= n or ends[last] != span.end or last < first:
                unencodable.append(span)
                continue
            tags[first] = tag_ids[f"B-{span.label}"]
            tags[first + 1:last + 1] = tag_ids[f"I-{span.label}"]
    unencodable.sort(key=lambda s: (s.start, s.end, s.label, s.id))
    return BioArrays(codes, starts, ends, tags, unencodable)


def encode_bio(text: str, spans: Sequence[Span], tag_ids: Mapping[str, int] | None = None) -> BioLists:
    """Tokens cut at every span edge, their offsets, BIO tags and the unencodable spans.

    With ``tag_ids`` (tag name -> ClassLabel id), ``tags`` holds ids instead of names.
    """
    names = None
    if tag_ids is None:
        names = ["O", *sorted({f"{prefix}-{s.label}" for s in spans for prefix in "BI"})]
        tag_ids = {name: i for i, name in enumerate(names)}
    bio = encode_bio_arrays(text, spans, tag_ids)
    starts, ends, tags = bio.starts.tolist(), bio.ends.tolist(), bio.tags.tolist()
    if names is not None:
        tags = [names[t] for t in tags]
    tokens = [text[s:e] for s, e in zip(starts, ends, strict=True)]
    return BioLists(tokens, starts, ends, tags, bio.unencodable)


def whole_token_spans(text: str, spans: Sequence[Span]) -> list[Span]:
    """Each span widened to the base tokens it touches (ids and labels kept, text recomputed)."""
    starts, ends = base_offsets(text)
    out: list[Span] = []
    for span in spans:
        start, end = span.start, span.end
        i = bisect_right(starts, start) - 1
        if i >= 0 and start < ends[i]:
            start = starts[i]
        j = bisect_left(ends, end)
        if j < len(ends) and starts[j] < end:
            end = ends[j]
        out.append(Span(start=start, end=end, label=span.label, id=span.id, text=text[start:end]))
    return out
