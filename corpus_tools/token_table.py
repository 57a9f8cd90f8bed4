"""The ``tokens`` config of a whole batch of documents at once, with a fixed number of numpy calls.

The per-document path (:func:`corpus_tools.fastbio.encode_bio_arrays`, then
:func:`corpus_tools.token_batches.token_row` and :func:`~corpus_tools.token_batches.tokens_batch`)
makes about thirty small numpy calls per document.  :func:`token_table` does the same work on the
concatenated texts of a batch: one encoding to code points and one to UTF-8, base tokens from the
class table of :func:`corpus_tools.fastbio.char_classes` with a forced break at every document
start, one search for the span edges that cut a token, the flat layer of
:func:`corpus_tools.spans.select_flat` as one walk over a ``next`` array, and the tags written with
``repeat``/``cumsum`` instead of one slice per span.  The result equals the per-document path
exactly (same record batch, token counts and unencodable spans; a property test holds them equal).

Spans come as flat arrays: the spans of document ``i`` are ``span_*[span_offsets[i]:span_offsets[i + 1]]``,
offsets in code points of that document's text, labels as indices into ``ontology.entity_labels``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from corpus_tools.fastbio import _PUNCT, _WORD, char_classes


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

    batch: pa.RecordBatch  # the tokens config rows, schema = the given ``schema``, rows in input order
    token_counts: np.ndarray  # tokens per document (int64)
    unencodable: np.ndarray  # int64 indices into the span arrays, by (document, start, end, label name, id)


def id_ranks(ids: Sequence[str]) -> np.ndarray:
    """The rank of every span id in Python string order (equal ids share a rank): ``span_order`` for ids."""
    order = sorted(range(len(ids)), key=ids.__getitem__)
    ranks = np.empty(len(ids), dtype=np.int64)
    rank, previous = -1, None
    for position in order:
        value = ids[position]
        if value != previous or rank < 0:
            rank, previous = rank + 1, value
        ranks[position] = rank
    return ranks


def _offsets32(lengths: np.ndarray) -> np.ndarray:
    out = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=out[1:])
    return out


def _base_tokens(codes: np.ndarray, bases: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Global starts and ends of the base tokens of the concatenated texts, and the class of every code point."""
    classes = char_classes()[codes]
    word = classes == _WORD
    punct = classes == _PUNCT
    n = len(codes)
    before = np.zeros(n, dtype=bool)
    before[1:] = word[:-1]
    after = np.zeros(n, dtype=bool)
    after[:-1] = word[1:]
    # A token never crosses a document: break before every document start, after every document end.
    inner = bases[(bases > 0) & (bases < n)]
    before[inner] = False
    after[inner - 1] = False
    starts = np.flatnonzero((word & ~before) | punct)
    ends = np.flatnonzero((word & ~after) | punct) + 1
    return starts, ends, classes


def _flat_layer(order: np.ndarray, g_start: np.ndarray, g_end: np.ndarray) -> np.ndarray:
    """Positions (in ``order``) of the spans :func:`~corpus_tools.spans.select_flat` keeps, over all documents.

    In sorted order the kept spans form a chain: after a kept span comes the first span starting at or
    after its end.  Over the concatenation that is also the first span of the next document with spans
    (documents do not overlap), so one walk from the first span yields every document's flat layer.
    """
    starts = g_start[order]
    ends = g_end[order]
    if len(starts) == 0:
        return np.zeros(0, dtype=np.int64)
    # Fast path: no span starts before the end of an earlier one, all are kept.
    if len(starts) == 1 or bool(np.all(starts[1:] >= np.maximum.accumulate(ends)[:-1])):
        return np.arange(len(starts), dtype=np.int64)
    following = np.searchsorted(starts, ends, side="left").tolist()
    kept = []
    k, n = 0, len(starts)
    while k < n:
        kept.append(k)
        k = following[k]
    return np.array(kept, dtype=np.int64)


def token_table(
    ids: Sequence[str],
    texts: Sequence[str],
    span_offsets: np.ndarray,
    span_starts: np.ndarray,
    span_ends: np.ndarray,
    span_labels: np.ndarray,
    span_order: np.ndarray | None,
    tag_ids: TagIds,
    schema: pa.Schema,
) -> TokenTable:
    """The tokens config rows of ``texts`` (ids ``ids``) with their spans, as one record batch.

    ``span_order`` breaks ties among spans of one document with the same start, end and label as
    ``select_flat`` does with span ids: any integers ordered as the ids are (:func:`id_ranks`); with
    None, such ties keep the order of the arrays.  Spans must satisfy ``0 <= start < end <= len(text)``;
    texts must be valid Unicode.  Rows equal ``tokens_batch([token_row(id, text, encode_bio_arrays(text,
    spans, bio_ids)) ...], schema)`` exactly, even for a batch of zero documents (an empty batch).
    """
    n_docs = len(texts)
    if len(ids) != n_docs:
        raise ValueError(f"{len(ids)} ids but {n_docs} texts")
    span_offsets = np.asarray(span_offsets, dtype=np.int64)
    span_starts = np.asarray(span_starts, dtype=np.int64)
    span_ends = np.asarray(span_ends, dtype=np.int64)
    span_labels = np.asarray(span_labels, dtype=np.int64)
    n_spans = len(span_starts)
    if len(span_offsets) != n_docs + 1 or span_offsets[0] != 0 or span_offsets[-1] != n_spans:
        raise ValueError("span_offsets must hold len(texts) + 1 offsets from 0 to the number of spans")

    text = "".join(texts)
    codes = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
    utf8 = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=n_docs)
    bases = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(lengths, out=bases[1:])

    span_doc = np.repeat(np.arange(n_docs, dtype=np.int64), np.diff(span_offsets))
    span_base = bases[span_doc]
    if n_spans and not (np.all(span_starts >= 0) and np.all(span_starts < span_ends)
                        and np.all(span_ends <= lengths[span_doc])):
        raise ValueError("every span needs 0 <= start < end <= len(text)")
    g_start = span_starts + span_base
    g_end = span_ends + span_base

    starts, ends, classes = _base_tokens(codes, bases)
    # Cut tokens at every span edge strictly inside one.
    if n_spans and len(starts):
        cuts = np.unique(np.concatenate([g_start, g_end]))
        at = np.searchsorted(starts, cuts, side="right") - 1
        inside = at >= 0
        inside[inside] = (starts[at[inside]] < cuts[inside]) & (cuts[inside] < ends[at[inside]])
        cuts = cuts[inside]
        if len(cuts):
            starts = np.insert(starts, np.searchsorted(starts, cuts), cuts)
            ends = np.insert(ends, np.searchsorted(ends, cuts), cuts)
    n_tokens = len(starts)
    first_token = np.searchsorted(starts, bases)
    token_counts = np.diff(first_token)

    # The flat layer: sorted by (document, start, -length, label name, id, position) as select_flat sorts.
    keys = [np.arange(n_spans, dtype=np.int64)]
    if span_order is not None:
        keys.append(np.asarray(span_order))
    keys += [tag_ids.name_rank[span_labels], span_starts - span_ends, g_start]
    order = np.lexsort(keys) if n_spans else np.zeros(0, dtype=np.int64)
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
    if len(unencodable) > 1:
        u = unencodable
        extra = [np.asarray(span_order)[u]] if span_order is not None else []
        unencodable = u[np.lexsort([u, *extra, tag_ids.name_rank[span_labels[u]], span_ends[u], span_starts[u],
                                    span_doc[u]])]

    # Arrow columns: token strings are the bytes of every tokenised code point, in order.
    width = 1 + (codes >= 0x80).astype(np.int64) + (codes >= 0x800) + (codes >= 0x10000)
    byte_at = np.zeros(len(codes) + 1, dtype=np.int64)
    np.cumsum(width, out=byte_at[1:])
    string_offsets = _offsets32(byte_at[ends] - byte_at[starts])
    data = utf8[np.repeat(classes != 0, width)] if len(utf8) else utf8
    strings = pa.StringArray.from_buffers(n_tokens, pa.py_buffer(string_offsets), pa.py_buffer(data))
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
    batch = pa.RecordBatch.from_arrays([columns[name] for name in schema.names], schema=schema)
    return TokenTable(batch, token_counts.astype(np.int64), unencodable.astype(np.int64))
