"""Tokens and BIO tags of a batch of documents at once: the one bulk path of the ``tokens`` config.

The tokens of a document are a function of its text and the segmentation setting alone
(:func:`corpus_tools.spans.tokenize` is the readable one-document form): never of its annotations.
:func:`token_table` tokenizes the concatenated texts of a run of documents (about :data:`TOKEN_RUN` code
points) and tags the tokens with the documents' spans in a fixed number of numpy calls per run: one encoding to
code points and one to UTF-8, the token edges as one ``flatnonzero`` over a per-code-point edge mask (from the
class table of :func:`char_classes`, derived from the tokenizer's own pattern, with an edge forced at every
document start and at every cut of the segmentation rule, so tokens never cross documents), every span widened
to the whole tokens its edges fall inside (the ANERcorp convention: ``وبغداد`` is ``B-GPE``), the flat layer of
:func:`corpus_tools.spans.select_flat` followed as a chain of "next span" pointers, the tags written with
``repeat``/``cumsum`` instead of one slice per span, and the token strings taken from the run's UTF-8 by Arrow.

The rows equal, document by document, what the readable reference :func:`corpus_tools.spans.spans_to_bio`
computes (same tokens, offsets, tags, widened and unencodable spans); property tests in tests/ hold them equal.

Spans come as flat arrays: the spans of document ``i`` are ``span_*[span_offsets[i]:span_offsets[i + 1]]``,
offsets in code points of that document's text, labels as indices into ``ontology.entity_labels``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import chain
from operator import attrgetter
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import regex

from corpus_tools.spans import _BASE_TOKEN, DEFAULT_SEGMENTATION, Span, check_segmentation, segmentation_cuts

_OTHER, _WORD, _PUNCT = 0, 1, 2
TOKEN_RUN = 1 << 18  # code points tokenized at once by token_table (a run's arrays stay in cache)


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


@dataclass(frozen=True)
class TagIds:
    """BIO tag ids per entity label index, and the rank of each label's name (select_flat's tie-break)."""

    b: np.ndarray  # int64: id of B-<label> for label index k
    i: np.ndarray  # int64: id of I-<label>
    o: int  # id of "O"
    name_rank: np.ndarray  # int64: position of the label's name among the sorted names

    @classmethod
    def from_labels(cls, entity_labels: Sequence[str], bio_ids: Mapping[str, int]) -> TagIds:
        """From ``ontology.entity_labels`` and the tag-name -> ClassLabel id mapping of ``ontology.bio_labels``."""
        labels = list(entity_labels)
        order = sorted(set(labels))
        return cls(
            b=np.array([bio_ids[f"B-{label}"] for label in labels], dtype=np.int64),
            i=np.array([bio_ids[f"I-{label}"] for label in labels], dtype=np.int64),
            o=int(bio_ids["O"]),
            name_rank=np.array([order.index(label) for label in labels], dtype=np.int64),
        )


@dataclass
class TokenTable:
    """:func:`token_table`: the tokens config rows and what the card statistics need."""

    rows: pa.Table  # the tokens config rows, schema = the given ``schema``, rows in input order (a batch per run)
    token_counts: np.ndarray  # tokens per document (int64)
    unencodable: np.ndarray  # int64 indices into the span arrays, by (document, start, end, label name, id)
    widened: np.ndarray  # int64 indices into the span arrays of the spans whose edge fell inside a token


def _id_ranks(ids: Sequence[str]) -> np.ndarray:
    """The rank of every id in Python string order (equal ids share a rank)."""
    order = sorted(range(len(ids)), key=ids.__getitem__)
    ranks = np.empty(len(ids), dtype=np.int64)
    rank, previous = -1, None
    for position in order:
        if rank < 0 or ids[position] != previous:
            rank, previous = rank + 1, ids[position]
        ranks[position] = rank
    return ranks


def _sort_by(keys: list[np.ndarray], span_index: np.ndarray, span_ids: Sequence[str] | None) -> np.ndarray:
    """``np.lexsort(keys)`` (last key first), ties broken by span id, then by position.

    Ids are compared only where all keys tie (identical spans of one document), so most batches
    sort no string at all.  ``span_index`` maps each position of the keys to its span.
    """
    order = np.lexsort(keys)
    if span_ids is None or len(order) < 2:
        return order
    tie = np.ones(len(order) - 1, dtype=bool)
    for key in keys:
        ordered = key[order]
        tie &= ordered[1:] == ordered[:-1]
    if not tie.any():
        return order
    member = np.zeros(len(order), dtype=bool)
    member[1:] |= tie
    member[:-1] |= tie
    members = order[member]
    rank = np.zeros(len(order), dtype=np.int64)
    rank[members] = _id_ranks([span_ids[k] for k in span_index[members].tolist()])
    return np.lexsort([rank, *keys])


class SpanArrays(NamedTuple):
    """The span arguments of :func:`token_table`, in its order (``token_table(ids, texts, *arrays, ...)``)."""

    offsets: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    labels: np.ndarray
    ids: list[str]


def span_arrays(span_lists: Sequence[Sequence[Span]], label_ids: Mapping[str, int]) -> SpanArrays:
    """Flat span arrays from each document's spans; ``label_ids``: entity label -> index in ``entity_labels``."""
    spans = list(chain.from_iterable(span_lists))
    n = len(spans)
    offsets = np.zeros(len(span_lists) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, span_lists), dtype=np.int64, count=len(span_lists)), out=offsets[1:])
    return SpanArrays(
        offsets,
        np.fromiter(map(attrgetter("start"), spans), dtype=np.int64, count=n),
        np.fromiter(map(attrgetter("end"), spans), dtype=np.int64, count=n),
        np.fromiter(map(label_ids.__getitem__, map(attrgetter("label"), spans)), dtype=np.int64, count=n),
        list(map(attrgetter("id"), spans)),
    )


def _offsets32(lengths: np.ndarray) -> np.ndarray:
    out = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=out[1:])
    return out


def _segment_bounds(codes: np.ndarray, forced: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The segment edges of :func:`_segment_edges` as positions (one ``flatnonzero``), and whether each segment is a
    token."""
    classes, edge = _segment_edges(codes, forced)
    bounds = np.flatnonzero(edge)
    return bounds, classes[bounds[:-1]] != _OTHER


def _segment_edges(codes: np.ndarray, forced: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The class of every code point of the concatenated texts, and the edges of their segments as a mask.

    A segment edge lies at every change between a token character and a non-token one, around every
    punctuation character, and at every position in ``forced`` (document starts, span edges).  A
    segment is then a token when its first character is a word or punctuation character (word runs
    end only at an edge, a punctuation character is followed by one); the others are runs of
    whitespace and other non-token characters.  This is ``_BASE_TOKEN``'s tokens cut at every
    forced position strictly inside one.  The mask has ``len(codes) + 1`` positions.
    """
    n = len(codes)
    classes = np.take(char_classes(), codes, mode="clip")  # codes < 0x110000: no check needed
    token_char = classes != 0
    word = classes == _WORD
    edge = np.empty(n + 1, dtype=bool)
    edge[0] = edge[n] = True
    if n > 1:
        np.logical_or(token_char[:-1], token_char[1:], out=edge[1:n])
        edge[1:n] &= ~(word[:-1] & word[1:])
    for positions in forced:
        edge[positions] = True
    return classes, edge


def _flat_layer(order: np.ndarray, g_start: np.ndarray, g_end: np.ndarray) -> np.ndarray:
    """Positions (in ``order``) of the spans :func:`~corpus_tools.spans.select_flat` keeps, over all documents.

    In sorted order the kept spans form a chain: after a kept span comes the first span starting at or
    after its end.  Over the concatenation that is also the first span of the next document with spans
    (documents do not overlap), so the chain from the first span holds every document's flat layer.
    A span starting at or after the end of every earlier span is on the chain; the chain is followed
    from all of those at once, one step per numpy pass, until it meets spans already on it.
    """
    starts = g_start[order]
    ends = g_end[order]
    n = len(starts)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    reach = np.empty(n, dtype=np.int64)
    reach[0] = -1
    np.maximum.accumulate(ends[:-1], out=reach[1:])
    kept = starts >= reach
    following = np.searchsorted(starts, ends, side="left")
    frontier = np.flatnonzero(kept)
    while len(frontier):
        step = following[frontier]
        step = step[step < n]
        step = step[~kept[step]]
        kept[step] = True
        frontier = step
    return np.flatnonzero(kept)


class _Batch(NamedTuple):
    """The concatenated texts of a batch: code points, UTF-8 bytes, and where each document starts."""

    codes: np.ndarray
    utf8: np.ndarray
    lengths: np.ndarray  # code points per document
    bases: np.ndarray  # offset of each document in the concatenation, then the total


def _concatenate(texts: Sequence[str], utf8: bytes | None, segmentation: str,
                 codes: np.ndarray | None = None) -> tuple[_Batch, np.ndarray]:
    """The batch, and the cuts of the segmentation rule in it (found in each text alone: the rule looks at the
    character before a word, which must not be the last one of the previous document)."""
    text = "" if codes is not None and utf8 is not None else "".join(texts)  # not needed when both are given
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    bases = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=bases[1:])
    batch = _Batch(code_points(text) if codes is None else codes,
                   np.frombuffer(text.encode("utf-8") if utf8 is None else utf8, dtype=np.uint8), lengths, bases)
    if check_segmentation(segmentation) == "none":
        return batch, np.zeros(0, dtype=np.int64)
    cuts = [base + cut for base, one in zip(bases.tolist(), texts, strict=False)  # bases: one more than texts
            for cut in segmentation_cuts(one, segmentation)]
    return batch, np.array(cuts, dtype=np.int64)


def _widen(g_start: np.ndarray, g_end: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> None:
    """Widen every span (in place) to the whole tokens its edges fall inside."""
    n = len(starts)
    if not n or not len(g_start):
        return
    at = np.searchsorted(starts, g_start, side="right") - 1
    inside = (at >= 0) & (g_start < ends[np.maximum(at, 0)])
    g_start[inside] = starts[at[inside]]
    at = np.searchsorted(ends, g_end, side="left")
    inside = (at < n) & (starts[np.minimum(at, n - 1)] < g_end)
    g_end[inside] = ends[at[inside]]


def _tag(tokens: tuple[np.ndarray, np.ndarray], g_start: np.ndarray, g_end: np.ndarray, span_labels: np.ndarray,
         span_ids: Sequence[str] | None, tag_ids: TagIds) -> tuple[np.ndarray, np.ndarray]:
    """The tag id of every token, and the spans BIO cannot hold (nested, or not on token edges), sorted."""
    starts, ends = tokens
    n_tokens, n_spans = len(starts), len(g_start)
    # The flat layer: sorted by (document, start, -length, label name, id, position) as select_flat sorts.
    span_index = np.arange(n_spans, dtype=np.int64)
    names = tag_ids.name_rank[span_labels]
    order = _sort_by([names, g_start - g_end, g_start], span_index, span_ids)
    flat = order[_flat_layer(order, g_start, g_end)]
    rest = np.ones(n_spans, dtype=bool)
    rest[flat] = False

    tags = np.full(n_tokens, tag_ids.o, dtype=np.int64)
    if len(flat):
        f_start, f_end = g_start[flat], g_end[flat]
        first = np.searchsorted(starts, f_start)
        last = np.searchsorted(ends, f_end)
        ok = (first < n_tokens) & (last < n_tokens) & (last >= first)
        ok[ok] = (starts[first[ok]] == f_start[ok]) & (ends[last[ok]] == f_end[ok])
        rest[flat[~ok]] = True
        first, last, label = first[ok], last[ok], span_labels[flat[ok]]
        tags[first] = tag_ids.b[label]
        inside = last - first
        total = int(inside.sum())
        if total:
            run = np.repeat(first + 1 - (np.cumsum(inside) - inside), inside)
            tags[run + np.arange(total)] = np.repeat(tag_ids.i[label], inside)
    unencodable = np.flatnonzero(rest)
    if len(unencodable) > 1:  # by (document, start, end, label name, id), as spans_to_bio reports them
        u = unencodable
        unencodable = u[_sort_by([names[u], g_end[u], g_start[u]], u, span_ids)]
    return tags, unencodable


def _token_strings(utf8: np.ndarray, bounds: np.ndarray, token_segments: np.ndarray) -> pa.StringArray:
    """The tokens as strings: the segments as strings over the batch's UTF-8, the tokens taken from them."""
    lead = np.empty(len(utf8) + 1, dtype=bool)
    np.greater_equal(utf8.view(np.int8), -64, out=lead[:-1])  # not a continuation byte 0b10xxxxxx
    lead[-1] = True
    byte_bounds = np.flatnonzero(lead)[bounds]
    if len(utf8) > np.iinfo(np.int32).max:
        raise ValueError("a run of more than 2 GiB of text; pass fewer documents at once")
    segments = pa.StringArray.from_buffers(len(bounds) - 1, pa.py_buffer(byte_bounds.astype(np.int32)),
                                           pa.py_buffer(utf8))
    taken = pc.take(segments, pa.array(token_segments.astype(np.int32)))
    return pa.StringArray.from_buffers(len(token_segments), *taken.buffers()[1:])  # without take's all-valid bitmap


def _record_batch(schema: pa.Schema, ids: Sequence[str], strings: pa.StringArray, token_counts: np.ndarray,
                  starts: np.ndarray, ends: np.ndarray, tags: np.ndarray, bases: np.ndarray) -> pa.RecordBatch:
    list_offsets = pa.array(_offsets32(token_counts))
    token_base = np.repeat(bases[:-1], token_counts)

    def as_list(field: str, values: pa.Array) -> pa.ListArray:
        return pa.ListArray.from_arrays(list_offsets, values, type=schema.field(field).type)

    def numbers(field: str, values: np.ndarray) -> pa.ListArray:
        value_type = schema.field(field).type.value_type
        return as_list(field, pa.array(values.astype(value_type.to_pandas_dtype())))

    columns = {
        "id": pa.array(list(ids), type=schema.field("id").type),
        "tokens": as_list("tokens", strings),
        "token_start": numbers("token_start", starts - token_base),
        "token_end": numbers("token_end", ends - token_base),
        "ner_tags": numbers("ner_tags", tags),
    }
    return pa.RecordBatch.from_arrays([columns[name] for name in schema.names], schema=schema)


def _token_segments(batch: _Batch, cuts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The segment edges of the batch and the indices of the segments that are tokens."""
    bounds, is_token = _segment_bounds(batch.codes, [batch.bases, cuts])
    return bounds, np.flatnonzero(is_token)


def token_bounds(texts: Sequence[str], segmentation: str = DEFAULT_SEGMENTATION, *, codes: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The tokens of every text at once: start and end offsets (each into its own text), and tokens per text;
    what :func:`corpus_tools.spans.tokenize` gives for each (lone surrogates allowed).

    ``codes``: the code points of ``"".join(texts)`` when the caller already has them (saves encoding them again).
    What :func:`token_table` writes in ``token_start``/``token_end``; ``check-release`` compares a release's
    tokens with it."""
    batch, cuts = _concatenate(texts, b"", segmentation, codes)
    bounds, token_segments = _token_segments(batch, cuts)
    starts, ends = bounds[token_segments], bounds[token_segments + 1]
    counts = np.diff(np.searchsorted(starts, batch.bases))
    base = np.repeat(batch.bases[:-1], counts)
    return starts - base, ends - base, counts


def token_edges(texts: Sequence[str], segmentation: str = DEFAULT_SEGMENTATION, *, codes: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """The tokenizer's segments of ``"".join(texts)`` (``codes``: its code points, when the caller has them) without
    listing them: the class of every code point (0: neither a word nor a punctuation character) and the segment
    edges as a mask of one more position (every text's start and every cut of the segmentation rule among them).
    The tokens of :func:`token_bounds` are the segments whose first code point's class is not 0;
    ``check-release`` compares a release's tokens with them."""
    batch, cuts = _concatenate(texts, b"", segmentation, codes)
    return _segment_edges(batch.codes, [batch.bases, cuts])


def token_table(
    ids: Sequence[str],
    texts: Sequence[str],
    span_offsets: np.ndarray,
    span_starts: np.ndarray,
    span_ends: np.ndarray,
    span_labels: np.ndarray,
    span_ids: Sequence[str] | None,
    tag_ids: TagIds,
    schema: pa.Schema,
    utf8: Sequence[bytes] | None = None,
    *,
    segmentation: str = DEFAULT_SEGMENTATION,
) -> TokenTable:
    """The tokens config rows of ``texts`` (ids ``ids``) with their spans, as a table.

    ``utf8``: the UTF-8 encoding of each text when the caller already has them (saves encoding them again).
    ``segmentation``: the tokenizer's segmentation rule (:data:`corpus_tools.spans.SEGMENTATIONS`).  Every span
    is widened to the whole tokens its edges fall inside before it is tagged.

    ``span_ids`` (the id of every span) break ties among spans of one document with the same start,
    end and label as ``select_flat`` does; they are compared only for such ties.  With None, ties keep
    the order of the arrays.  Spans must satisfy ``0 <= start < end <= len(text)``; texts must be valid
    Unicode.  :func:`span_arrays` builds the span arguments from lists of :class:`Span`.

    The documents are tokenized a run of about :data:`TOKEN_RUN` code points at a time (the arrays of a run stay
    in the processor's cache): the table holds a record batch per run.

    Each row equals what :func:`corpus_tools.spans.spans_to_bio` gives for its document, and a batch of zero
    documents gives an empty table.
    """
    if len(ids) != len(texts):
        raise ValueError(f"{len(ids)} ids but {len(texts)} texts")
    span_offsets = np.asarray(span_offsets, dtype=np.int64)
    span_starts = np.asarray(span_starts, dtype=np.int64)
    span_ends = np.asarray(span_ends, dtype=np.int64)
    span_labels = np.asarray(span_labels, dtype=np.int64)
    _check_offsets(span_offsets, len(texts), len(span_starts))
    counts, unencodable, widened, batches = [], [], [], []
    for first, last in _runs(texts):
        lo, hi = int(span_offsets[first]), int(span_offsets[last])
        tagged = _tagged(texts[first:last], span_offsets[first:last + 1] - lo, span_starts[lo:hi], span_ends[lo:hi],
                         span_labels[lo:hi], None if span_ids is None else span_ids[lo:hi], tag_ids,
                         None if utf8 is None else b"".join(utf8[first:last]), segmentation)
        strings = _token_strings(tagged.batch.utf8, tagged.bounds, tagged.token_segments)
        batches.append(_record_batch(schema, ids[first:last], strings, tagged.token_counts, tagged.starts,
                                     tagged.ends, tagged.tags, tagged.batch.bases))
        counts.append(tagged.token_counts)
        unencodable.append(tagged.unencodable + lo)  # into the span arrays of the whole batch
        widened.append(tagged.widened + lo)
    return TokenTable(pa.Table.from_batches(batches, schema=schema), np.concatenate(counts).astype(np.int64),
                      np.concatenate(unencodable).astype(np.int64), np.concatenate(widened).astype(np.int64))


def _runs(texts: Sequence[str]) -> list[tuple[int, int]]:
    """The texts as runs ``(first, last)`` of about :data:`TOKEN_RUN` code points (at least one text each; one
    empty run for no text)."""
    runs: list[tuple[int, int]] = []
    first, n = 0, len(texts)
    while first < n or not runs:
        last, size = first, 0
        while last < n and (last == first or size + len(texts[last]) <= TOKEN_RUN):
            size += len(texts[last])
            last += 1
        runs.append((first, last))
        first = last
    return runs


def _check_offsets(span_offsets: np.ndarray, n_docs: int, n_spans: int) -> None:
    if len(span_offsets) != n_docs + 1 or span_offsets[0] != 0 or span_offsets[-1] != n_spans:
        raise ValueError("span_offsets must hold len(texts) + 1 offsets from 0 to the number of spans")


def token_tags(
    texts: Sequence[str],
    span_offsets: np.ndarray,
    span_starts: np.ndarray,
    span_ends: np.ndarray,
    span_labels: np.ndarray,
    tag_ids: TagIds,
    *,
    segmentation: str = DEFAULT_SEGMENTATION,
) -> tuple[np.ndarray, np.ndarray]:
    """The tag ids of :func:`token_table`'s ``ner_tags`` for every token of ``texts`` (one array, text after text)
    and the tokens per text, without the rows: what agreement compares.  Spans as :func:`token_table` takes them
    (ties among identical spans keep the order of the arrays)."""
    tagged = _tagged(texts, span_offsets, span_starts, span_ends, span_labels, None, tag_ids, b"", segmentation)
    return tagged.tags, tagged.token_counts


class _Tagged(NamedTuple):
    batch: _Batch
    bounds: np.ndarray
    token_segments: np.ndarray
    starts: np.ndarray  # of every token, into the concatenation
    ends: np.ndarray
    token_counts: np.ndarray
    tags: np.ndarray
    unencodable: np.ndarray
    widened: np.ndarray


def _tagged(texts: Sequence[str], span_offsets: np.ndarray, span_starts: np.ndarray, span_ends: np.ndarray,
            span_labels: np.ndarray, span_ids: Sequence[str] | None, tag_ids: TagIds, utf8: bytes | None,
            segmentation: str) -> _Tagged:
    """The texts tokenized and their spans widened and tagged: the one path of :func:`token_table` and
    :func:`token_tags`."""
    n_docs = len(texts)
    span_offsets = np.asarray(span_offsets, dtype=np.int64)
    span_starts = np.asarray(span_starts, dtype=np.int64)
    span_ends = np.asarray(span_ends, dtype=np.int64)
    span_labels = np.asarray(span_labels, dtype=np.int64)
    n_spans = len(span_starts)
    _check_offsets(span_offsets, n_docs, n_spans)
    batch, cuts = _concatenate(texts, utf8, segmentation)
    span_doc = np.repeat(np.arange(n_docs, dtype=np.int64), np.diff(span_offsets))
    if n_spans and not (np.all(span_starts >= 0) and np.all(span_starts < span_ends)
                        and np.all(span_ends <= batch.lengths[span_doc])):
        raise ValueError("every span needs 0 <= start < end <= len(text)")
    if n_spans and not (np.all(span_labels >= 0) and np.all(span_labels < len(tag_ids.b))):
        raise ValueError("span labels must be indices into the ontology's entity labels")
    span_base = batch.bases[span_doc]
    g_start = span_starts + span_base
    g_end = span_ends + span_base

    bounds, token_segments = _token_segments(batch, cuts)
    starts = bounds[token_segments]
    ends = bounds[token_segments + 1]
    _widen(g_start, g_end, starts, ends)
    widened = np.flatnonzero((g_start != span_starts + span_base) | (g_end != span_ends + span_base))
    token_counts = np.diff(np.searchsorted(starts, batch.bases))
    tags, unencodable = _tag((starts, ends), g_start, g_end, span_labels, span_ids, tag_ids)
    return _Tagged(batch, bounds, token_segments, starts, ends, token_counts, tags, unencodable, widened)
