"""Cross-config checks of a release: the tokens and relations rows of a split against its documents rows.

A build writes, for each split, one tokens row per documents row in the same order, and one relations row
per relation of the documents in the same order (documents in order, each document's relations in order).
:class:`TokensAgainstDocuments` (run inside the scan of each chunk of a tokens file) and
:func:`cross_relations` (a split) read the configs side by side and check, over whole batches:

* tokens: the row's id is its documents row's id, every token is ``text[token_start:token_end]`` of that
  document, the tokens are exactly what the tokenizer (with the segmentation the manifest records) gives for
  the text, every span ``ner_tags`` decode to covers an entity of the document with its label (entities
  are widened to whole tokens), and every entity on token boundaries that overlaps no other entity is
  decoded exactly (spans nested in or crossing another may be left out of the flat BIO layer, and are
  counted in the card);
* relations: the row names its document, the relation's id, label, head and tail ids, and the head and tail
  entities' offsets, texts and labels as the document holds them.

The per-file scans (:mod:`corpus_tools.release.scan`) check each config on its own; the row counts are
compared by ``release.checks``.  Only the first few mismatches of a job are located, the rest counted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from corpus_tools.columns import (
    find_in_rows,
    first_of,
    gather_pieces,
    int64_array,
    int_view,
    ints,
    parents,
    row_group_batches,
    struct_fields,
)

LOCATED = 5  # problems located per code and file (mismatches: per split and config); the rest are counted
BATCH_ROWS = 512
# the documents columns the tokens are compared with: of the entities, only their offsets and labels
DOCUMENT_COLUMNS = ["id", "text", *(f"entities.list.element.{name}" for name in ("start", "end", "label"))]
SMALL_ROWS = 64  # documents compared at a time (about 130,000 code points: arrays that stay in the caches)


@dataclass
class Mismatch:
    config: str  # "tokens", "relations" or "documents" (a view's documents)
    file: str  # the release-relative file of the row
    row: int  # its row in that file
    document_id: str | None
    what: str


@dataclass
class CrossScan:
    mismatches: list[Mismatch] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {"tokens": 0, "relations": 0, "documents": 0})

    def add(self, mismatch: Mismatch) -> None:
        self.counts[mismatch.config] += 1
        if self.counts[mismatch.config] <= LOCATED:
            self.mismatches.append(mismatch)


class _Rows:
    """The rows of a config's files of one split, in order from row ``start`` of the split, taken a number at a
    time as one table."""

    def __init__(self, root: Path, files: list[str], columns: list[str], start: int = 0) -> None:
        self.root, self.files, self.columns = root, files, columns
        # a generator that does not refer to self: no reference cycle keeps its open readers (and the pages they
        # hold) alive after the rows are dropped, until the garbage collector happens to run
        self._batches = _read_rows(root, files, columns, start)
        self._pending: list[tuple[int, int, pa.RecordBatch]] = []  # (file index, first row in file, batch)

    def take(self, n: int) -> tuple[pa.Table | None, list[tuple[int, int, int]]]:
        """The next ``n`` rows (fewer at the end; None after the last) and where they come from: (file index,
        first row, count) of each piece."""
        pieces: list[pa.RecordBatch] = []
        where: list[tuple[int, int, int]] = []
        while n > 0:
            if not self._pending:
                nxt = next(self._batches, None)
                if nxt is None:
                    break
                self._pending.append(nxt)
            index, first, batch = self._pending.pop()
            part = batch.slice(0, n)
            pieces.append(part)
            where.append((index, first, part.num_rows))
            if batch.num_rows > n:
                self._pending.append((index, first + n, batch.slice(n)))
            n -= part.num_rows
        if not pieces:
            return None, []
        return pa.Table.from_batches(pieces).combine_chunks(), where

    def locate(self, where: list[tuple[int, int, int]], k: int) -> tuple[str, int]:
        for index, first, count in where:
            if k < count:
                return self.files[index], first + k
            k -= count
        raise IndexError(k)


def _read_rows(root: Path, files: list[str], columns: list[str], skip: int
               ) -> Iterator[tuple[int, int, pa.RecordBatch]]:
    """The batches of ``files`` from row ``skip`` of the first on: (file index, first row in file, batch)."""
    for index, rel in enumerate(files):
        reader = pq.ParquetFile(root / rel, buffer_size=1 << 20, pre_buffer=False)  # as the scans' (scan._batches)
        meta = reader.metadata
        if skip >= meta.num_rows:  # the whole file lies before the start
            skip -= meta.num_rows
            continue
        groups, row = [], 0
        for group in range(meta.num_row_groups):
            size = meta.row_group(group).num_rows
            if not groups and skip >= size:  # so do its first row groups
                skip -= size
                row += size
            else:
                groups.append(group)
        for _, batch in row_group_batches(reader, groups, batch_size=BATCH_ROWS, columns=columns):
            if skip:  # the start lies inside this row group
                if skip >= batch.num_rows:
                    skip -= batch.num_rows
                    row += batch.num_rows
                    continue
                batch, row, skip = batch.slice(skip), row + skip, 0
            yield index, row, batch
            row += batch.num_rows


def _names(root: Path, rel: str, column: str, sub: str | None = None) -> list[str]:
    """The ClassLabel names of a column (or of a field of its list of structs) from the file's features."""
    meta = (pq.read_schema(root / rel).metadata or {}).get(b"huggingface")
    feature = json.loads(meta)["info"]["features"][column]
    feature = feature.get("feature", feature)
    if sub is not None:
        feature = feature[sub]
    return list(feature["names"])


class _Strings(NamedTuple):
    """A string array without nulls decoded once: the strings, their code points one after the other, and where
    each string starts among them (then the total)."""

    strings: list[str]
    points: np.ndarray  # uint32
    starts: np.ndarray  # int64, one more than the strings

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.starts)


def _code_points(strings: pa.Array) -> _Strings | None:
    """The strings of an array without nulls decoded; None when they are not valid UTF-8.  Decoded one string at a
    time: a third faster than one decode of the whole buffer (measured on the bench release's texts)."""
    try:
        values = strings.to_pylist()
    except UnicodeDecodeError:
        return None
    points = np.frombuffer("".join(values).encode("utf-32-le"), dtype=np.uint32)
    starts = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, values), dtype=np.int64, count=len(values)), out=starts[1:])
    return _Strings(values, points, starts)


# ---------------------------------------------------------------------------------------------- tokens
def _tag_table(root: Path, documents: list[str], tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """For each ner_tags id: its kind (0 O, 1 B, 2 I, -1 unknown) and its entity label id (-1 for none)."""
    labels = {name: i for i, name in enumerate(_names(root, documents[0], "entities", "label"))}
    tags = _names(root, tokens[0], "ner_tags")
    kind = np.full(len(tags) + 1, -1, dtype=np.int64)  # the extra last slot: ids out of range
    entity = np.full(len(tags) + 1, -1, dtype=np.int64)
    for i, tag in enumerate(tags):
        if tag == "O":
            kind[i] = 0
        elif tag[:2] in ("B-", "I-") and tag[2:] in labels:
            kind[i], entity[i] = (1 if tag[0] == "B" else 2), labels[tag[2:]]
    return kind, entity


class _Vocabulary:
    """The distinct token strings of a row group (its dictionary) as code points, decoded once for all the
    row group's tokens."""

    def __init__(self, strings: pa.Array) -> None:
        self.strings = strings
        decoded = _code_points(strings)
        self.valid = decoded is not None  # False: not UTF-8 (Parquet readers do not check it)
        self.points = decoded.points if decoded is not None else np.zeros(0, np.uint32)
        self.starts = decoded.starts if decoded is not None else np.zeros(1, np.int64)
        self.lengths = ints(pc.utf8_length(strings))
        self._token_characters: np.ndarray | None = None

    def token_characters(self) -> np.ndarray:
        """Whether each string holds only the tokenizer's token characters (words' and punctuation)."""
        if self._token_characters is None:
            from corpus_tools.tokens import char_classes

            other = np.zeros(len(self.points) + 1, dtype=np.int64)
            np.cumsum(np.take(char_classes(), self.points, mode="clip") == 0, out=other[1:])
            self._token_characters = other[self.starts[1:]] == other[self.starts[:-1]]
        return self._token_characters

    def points_of(self, codes: np.ndarray) -> np.ndarray:
        """The code points of the strings ``codes``, one after the other."""
        return gather_pieces(self.points, self.starts[:-1], self.starts[1:], codes)


class TokensAgainstDocuments:
    """Compares tokens rows, a row group at a time, with the documents rows at the same positions of the split
    (``documents``: the split's documents files in order; ``start``: the split row of the first tokens row
    given).  The tokens file scan (:func:`corpus_tools.release.scan.scan_file`) calls :meth:`check` with each
    batch it reads, so the tokens are read once."""

    def __init__(self, root: str | Path, documents: list[str], tokens_file: str, start: int,
                 segmentation: str | None = None) -> None:
        self.root = Path(root)
        self.segmentation = segmentation  # None: the manifest does not say (the tokenizer check is skipped)
        self.kind_of, self.entity_of = _tag_table(self.root, documents, [tokens_file])
        self.docs = _Rows(self.root, documents, DOCUMENT_COLUMNS, start=start)
        self.out = CrossScan()
        self.done = False  # no documents row left

    def check(self, rel: str, first: int, batch: pa.RecordBatch) -> None:
        """Rows ``first``... of tokens file ``rel``: the next rows after those checked before."""
        if self.done:
            return
        coded = batch.column("tokens").flatten()
        if coded.null_count or (pa.types.is_dictionary(coded.type) and coded.dictionary.null_count):
            self.docs.take(batch.num_rows)  # the tokens scan reports it; keep the documents in step
            return
        if pa.types.is_dictionary(coded.type):
            vocabulary, codes = _Vocabulary(coded.dictionary), _int_view(coded.indices)
        else:
            vocabulary, codes = _Vocabulary(coded), np.arange(len(coded), dtype=np.int64)
        if not vocabulary.valid:
            self.docs.take(batch.num_rows)  # keep the documents in step
            ids = batch.column("id")
            self.out.add(Mismatch("tokens", rel, first, ids[0].as_py(), "the token strings of its row group are not"
                                  " valid UTF-8"))
            return
        doc_table, _ = self.docs.take(batch.num_rows)
        if doc_table is None:
            self.done = True  # more tokens rows than documents rows: the row counts are compared elsewhere
            return
        rows = min(batch.num_rows, doc_table.num_rows)
        tokens, docs = _TokenRows.of(batch, codes, rows), _DocumentRows.of(doc_table, rows)
        unequal = _unequal(tokens.ids, docs.ids)
        for offset in range(0, rows, SMALL_ROWS):  # arrays that stay in the CPU caches
            _compare_tokens(tokens, docs, unequal, offset, min(offset + SMALL_ROWS, rows), vocabulary, self.kind_of,
                            self.entity_of, rel, first, self.out, self.segmentation)
        if rows < batch.num_rows:
            self.done = True


def _array(column: pa.ChunkedArray) -> pa.Array:
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def _list_starts(lists: pa.Array) -> np.ndarray:
    """Where each row's items start in ``lists.flatten()`` (a null list holds none), then their number."""
    out = np.zeros(len(lists) + 1, dtype=np.int64)
    np.cumsum(ints(pc.list_value_length(lists), null=0), out=out[1:])
    return out


class _TokenRows(NamedTuple):
    """The tokens rows of a batch: each list column's items as numpy (views of the Arrow buffers, made int64 a few
    rows at a time, where they fit in the CPU caches), and where each row's items start."""

    ids: pa.Array
    codes: np.ndarray  # the tokens' indices into the vocabulary
    token_first: np.ndarray
    starts: np.ndarray
    start_first: np.ndarray
    ends: np.ndarray
    end_first: np.ndarray
    tags: np.ndarray
    tag_first: np.ndarray

    @classmethod
    def of(cls, batch: pa.RecordBatch, codes: np.ndarray, rows: int) -> _TokenRows:
        batch = batch.slice(0, rows)
        token_first = _list_starts(batch.column("tokens"))
        columns = [batch.column(name) for name in ("token_start", "token_end", "ner_tags")]
        return cls(batch.column("id"), codes[:token_first[-1]], token_first,
                   *(x for c in columns for x in (_int_view(c.flatten()), _list_starts(c))))

    def rows(self, r0: int, r1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The tokens of rows ``r0`` to ``r1``: their row (from 0), code, start, end and tag, int64."""
        owner = np.repeat(np.arange(r1 - r0, dtype=np.int64), np.diff(self.token_first[r0:r1 + 1]))
        t0, t1 = self.token_first[r0], self.token_first[r1]
        return (owner, self.codes[t0:t1].astype(np.int64, copy=False),
                *(values[first[r0]:first[r1]].astype(np.int64, copy=False) for values, first in (
                    (self.starts, self.start_first), (self.ends, self.end_first), (self.tags, self.tag_first))))


def _int_view(array: pa.Array) -> np.ndarray:
    """An integer array's values: a view of its buffer when it has no nulls, else int64 with -1 at the nulls."""
    values, valid = int_view(array)
    return values if valid is None else ints(array)


class _DocumentRows(NamedTuple):
    """The documents rows compared with a batch of tokens rows, read once into numpy."""

    ids: pa.Array
    texts: pa.Array
    entity_first: np.ndarray
    entity_nulls: np.ndarray | None  # per row: its entities or one of them are null (None: none is)
    spans: _Spans

    @classmethod
    def of(cls, table: pa.Table, rows: int) -> _DocumentRows:
        table = table.slice(0, rows)
        entities = _array(table.column("entities"))
        items = entities.flatten()
        first = _list_starts(entities)
        nulls = None
        if entities.null_count or items.null_count:
            nulls = ints(pc.is_null(entities).cast(pa.int8())).astype(bool)
            null_items = np.flatnonzero(ints(pc.is_null(items).cast(pa.int8())))
            nulls[np.searchsorted(first, null_items, side="right") - 1] = True
        fields = struct_fields(items)
        spans = _Spans(parents(entities), ints(fields["start"]), ints(fields["end"]), ints(fields["label"]))
        return cls(_array(table.column("id")), _array(table.column("text")), first, nulls, spans)


def _compare_tokens(tokens: _TokenRows, docs: _DocumentRows, unequal: np.ndarray, r0: int, r1: int,
                    vocabulary: _Vocabulary, kind_of: np.ndarray, entity_of: np.ndarray, rel: str, first_row: int,
                    out: CrossScan, segmentation: str | None = None) -> None:
    """Rows ``r0`` to ``r1`` of a batch (file rows from ``first_row + r0``) compared with their documents rows."""
    bad: dict[int, str] = {}
    for k in unequal[(unequal >= r0) & (unequal < r1)].tolist():
        bad[k - r0] = (f"its id {tokens.ids[k].as_py()!r} is not its documents row's {docs.ids[k].as_py()!r} (same"
                       " order expected)")
    owner, codes, starts, ends, tags = tokens.rows(r0, r1)
    texts = docs.texts.slice(r0, r1 - r0)
    if texts.null_count or not len(starts) == len(ends) == len(tags) == len(owner) == len(codes):
        return  # lists of other lengths or nulls: the tokens scan reports them
    decoded = _code_points(texts)  # decoded once for both checks; None: not UTF-8 (the documents scan reports it)
    if decoded is not None:
        placed = _compare_token_texts(decoded, vocabulary, codes, owner, starts, ends, bad)
        if segmentation is not None:
            _compare_tokenizer(decoded, owner, starts, ends, segmentation, bad, placed)
    known = None
    if docs.entity_nulls is None or not docs.entity_nulls[r0:r1].any():  # else the documents scan reports them
        e0, e1 = docs.entity_first[r0], docs.entity_first[r1]
        spans = docs.spans
        known = _Spans(spans.row[e0:e1] - r0, spans.start[e0:e1], spans.end[e0:e1], spans.label[e0:e1])
    _compare_tags(known, r1 - r0, owner, starts, ends, tags, kind_of, entity_of, bad)
    for row in sorted(bad):
        out.add(Mismatch("tokens", rel, first_row + r0 + row, docs.ids[r0 + row].as_py(), bad[row]))


def _compare_token_texts(texts: _Strings, vocabulary: _Vocabulary, codes: np.ndarray, owner: np.ndarray,
                         starts: np.ndarray, ends: np.ndarray, bad: dict[int, str]
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Every token is text[start:end] of its document: the text's code points at the tokens' positions, one
    token after the other, equal the token strings' code points (one comparison for the batch).  Returned when
    they are: where the tokens start and end among the texts' code points, and whether each holds only token
    characters."""
    size = ends - starts
    base = texts.starts[owner]
    at, stop = base + starts, base + ends
    fits = (starts >= 0) & (size > 0) & (ends <= texts.lengths[owner]) & (vocabulary.lengths[codes] == size)
    in_order = np.ones(len(at), dtype=bool)
    in_order[1:] = at[1:] >= stop[:-1]
    if not bool(np.all(fits & in_order)):
        for k in np.flatnonzero(~(fits & in_order))[:LOCATED]:
            bad.setdefault(int(owner[k]), f"token {k - int(np.searchsorted(owner, owner[k]))} at"
                                          f" {starts[k]}-{ends[k]} does not fit the text, overlaps the token before"
                                          " it or is empty")
        return None
    in_text = gather_pieces(texts.points, at, stop)  # tokens in order, apart: pieces that follow each other
    in_tokens = vocabulary.points_of(codes)
    if np.array_equal(in_text, in_tokens):
        return at, stop, vocabulary.token_characters()[codes]
    first = np.cumsum(size) - size  # each token's first position in the gathered arrays (of equal lengths)
    k = int(np.searchsorted(first, np.argmax(in_text != in_tokens), side="right")) - 1
    bad.setdefault(int(owner[k]), f"token {vocabulary.strings[int(codes[k])].as_py()!r} at {starts[k]}-{ends[k]}"
                                  " is not the document's text there")
    return None


def _compare_tokenizer(texts: _Strings, owner: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                       segmentation: str, bad: dict[int, str],
                       placed: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> None:
    """The tokens of every row are exactly the tokenizer's tokens of its document's text.  ``placed``: where the
    tokens start and end among the texts' code points and whether each holds only token characters, when they
    fit their texts in order and apart and are the text there (:func:`_the_tokenizers`)."""
    from corpus_tools.spans import TOKENIZER, TOKENIZER_VERSION
    from corpus_tools.tokens import token_bounds

    if placed is not None and _the_tokenizers(texts, *placed, segmentation):
        return  # else the tokenizer's tokens listed, to name the first difference
    n = len(texts.starts) - 1
    try:
        expected_starts, expected_ends, expected_counts = token_bounds(texts.strings, segmentation,
                                                                       codes=texts.points)
    except ValueError:
        return  # an unknown segmentation: the manifest check reports it
    counts = np.bincount(owner, minlength=n) if len(owner) else np.zeros(n, dtype=np.int64)
    if (np.array_equal(counts, expected_counts) and np.array_equal(starts, expected_starts)
            and np.array_equal(ends, expected_ends)):
        return
    found, expected = np.zeros(n + 1, np.int64), np.zeros(n + 1, np.int64)
    np.cumsum(counts, out=found[1:])
    np.cumsum(expected_counts, out=expected[1:])
    for row in range(n):
        mine = starts[found[row]:found[row + 1]], ends[found[row]:found[row + 1]]
        theirs = expected_starts[expected[row]:expected[row + 1]], expected_ends[expected[row]:expected[row + 1]]
        if np.array_equal(mine[0], theirs[0]) and np.array_equal(mine[1], theirs[1]):
            continue
        k = next((i for i in range(min(len(mine[0]), len(theirs[0])))
                  if (mine[0][i], mine[1][i]) != (theirs[0][i], theirs[1][i])), min(len(mine[0]), len(theirs[0])))
        got = f"{mine[0][k]}-{mine[1][k]}" if k < len(mine[0]) else "no token"
        want = f"{theirs[0][k]}-{theirs[1][k]}" if k < len(theirs[0]) else "no token"
        bad.setdefault(row, f"its tokens are not those of the tokenizer ({TOKENIZER} {TOKENIZER_VERSION},"
                            f" segmentation {segmentation}) for its text: token {k} is {got}, the tokenizer gives"
                            f" {want}")
        return


def _the_tokenizers(texts: _Strings, at: np.ndarray, stop: np.ndarray, tokens: np.ndarray, segmentation: str
                    ) -> bool:
    """Whether tokens placed at ``at``-``stop`` among the texts' code points (each inside its text, in order, apart,
    not empty, and equal to the text there) are exactly the tokenizer's, without listing the tokenizer's.
    ``tokens``: whether each token holds only token characters (words' and punctuation).

    They are when every token starts at a segment edge on a token character, ends at an edge, holds only token
    characters, and every edge on a token character is a token's start: then no edge lies inside a token (one on a
    token character would start another token inside it), so each token is a segment, and every segment that
    starts on a token character (a token of the tokenizer) is one of them."""
    from corpus_tools.tokens import token_edges

    try:
        classes, edge = token_edges(texts.strings, segmentation, codes=texts.points)
    except ValueError:
        return False
    return (bool(tokens.all() and edge[at].all() and edge[stop].all() and classes[at].all())
            and np.count_nonzero(edge[:-1] & (classes != 0)) == len(at))


def _compare_tags(known: _Spans | None, rows: int, owner: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                  tags: np.ndarray, kind_of: np.ndarray, entity_of: np.ndarray, bad: dict[int, str]) -> None:
    """The spans the BIO tags decode to are entities (``known``: the entities of the ``rows`` documents, None when
    some are null); every entity on token boundaries overlapping no other entity is one of them."""
    unknown = len(kind_of) - 1  # the slot of the ids out of range
    found = tags  # the ids as stored, for the messages
    if len(tags) and not (int(tags.min()) >= 0 and int(tags.max()) < unknown):
        tags = np.where((tags >= 0) & (tags < unknown), tags, unknown)
    # the tokens that are not O (a few in ten), their positions ``at``: the rest of the work is over them alone
    at = np.flatnonzero(kind_of[tags] != 0)
    tagged = tags[at]
    kind, label, row = kind_of[tagged], entity_of[tagged], owner[at]
    if len(kind) and int(kind.min()) < 0:
        k = int(at[np.argmax(kind < 0)])
        bad.setdefault(int(owner[k]), f"ner_tags id {found[k]} is not a BIO tag of an entity label")
    is_b, is_i = kind == 1, kind == 2
    previous_same = np.zeros(len(at), dtype=bool)  # the token before is a B or I of the same row and label
    previous_same[1:] = ((at[1:] == at[:-1] + 1) & (row[1:] == row[:-1]) & (kind[:-1] > 0)
                         & (label[1:] == label[:-1]))
    inside = is_i & previous_same
    if np.count_nonzero(inside) < np.count_nonzero(is_i):
        k = int(at[np.argmax(is_i & ~previous_same)])
        in_row = k - int(np.searchsorted(owner, owner[k]))  # the token's position in its row
        bad.setdefault(int(owner[k]), f"ner_tags has an I- tag at token {in_row} that continues no span")
    # a decoded span: a B and the I-'s that continue it (an I- after an I- that continues nothing is in no span)
    b = np.flatnonzero(is_b)
    breaks = np.flatnonzero(~inside)  # every B among them
    after = np.searchsorted(breaks, b, side="right")
    first, last = at[b], at[np.where(after < len(breaks), breaks[np.minimum(after, len(breaks) - 1)], len(at)) - 1]
    if known is None:
        return  # the documents scan reports null entities
    decoded = _Spans(owner[first], starts[first], ends[last], label[is_b])
    # spans as one integer each, (row, start, end, label) in 7 + 25 + 25 + 6 bits, when they fit; else tuples
    fits = (rows <= 1 << 7 and 0 <= int(known.label.min(initial=0)) and int(known.label.max(initial=0)) < 1 << 6
            and int(label.max(initial=0)) < 1 << 6
            and min(int(decoded.start.min(initial=0)), int(known.start.min(initial=0))) >= 0
            and max(int(decoded.end.max(initial=0)), int(known.end.max(initial=0))) < 1 << 25)
    _check_decoded(decoded, known, fits, bad)
    _check_encoded(known, decoded, fits, owner, starts, ends, bad)


@dataclass
class _Spans:
    """Spans of a batch of documents, one array per part."""

    row: np.ndarray
    start: np.ndarray
    end: np.ndarray
    label: np.ndarray

    def keys(self, at: np.ndarray | slice = slice(None)) -> np.ndarray:
        """(row, start, end, label) as one integer each, in 7 + 25 + 25 + 6 bits (when ``fits``)."""
        return (self.row[at] << 56) | (self.start[at] << 31) | (self.end[at] << 6) | self.label[at]

    def tuples(self) -> list[tuple[int, int, int, int]]:
        return list(zip(self.row.tolist(), self.start.tolist(), self.end.tolist(), self.label.tolist(), strict=True))


def _check_decoded(decoded: _Spans, known: _Spans, fits: bool, bad: dict[int, str]) -> None:
    """Every decoded span covers an entity of its label (an entity is widened to the tokens its edges fall
    inside)."""
    if fits:
        stray = np.flatnonzero(~_member(_sorted(known.keys()), decoded.keys()))
    else:
        entities = set(known.tuples())
        stray = np.array([k for k, span in enumerate(decoded.tuples()) if span not in entities], dtype=np.int64)
    if not len(stray):
        return
    # a stray span is covered when an entity of its row and label lies inside it (start <= its start, its end <=
    # end): the entities of the row from the stray's start on are a range of the entities sorted by (row, start),
    # and their ends and labels decide, for every stray at once
    row, start, end, lab = decoded.row[stray], decoded.start[stray], decoded.end[stray], decoded.label[stray]
    low = min(int(known.start.min(initial=0)), int(start.min()))
    width = max(int(known.start.max(initial=0)), int(start.max())) - low + 1
    keys = (known.row - int(row.min(initial=0))) * width + (known.start - low)  # in (row, start) order
    order = np.argsort(keys, kind="stable")  # a pass when the entities are stored sorted, as a build writes them
    keys = keys[order]
    base = (row - int(row.min(initial=0))) * width
    first = np.searchsorted(keys, base + (start - low), side="left")
    stop = np.searchsorted(keys, base + width, side="left")  # the end of the row
    sizes = stop - first
    owner = np.repeat(np.arange(len(stray)), sizes)
    at = order[np.repeat(first - np.cumsum(sizes) + sizes, sizes) + np.arange(int(sizes.sum()))]
    covered = np.zeros(len(stray), dtype=bool)
    covered[owner[(known.end[at] <= end[owner]) & (known.label[at] == lab[owner])]] = True
    for k in _first_of_each_row(np.flatnonzero(~covered), row):
        bad.setdefault(int(row[k]), f"ner_tags decode to a span {start[k]}-{end[k]} that covers no entity of the"
                                    " document with that label")


def _check_encoded(known: _Spans, decoded: _Spans, fits: bool, owner: np.ndarray, starts: np.ndarray,
                   ends: np.ndarray, bad: dict[int, str]) -> None:
    """Every entity on token boundaries that overlaps no other entity of its document is a decoded span."""
    e_row, e_start, e_end = known.row, known.start, known.end
    boundary = owner << 32
    aligned = _member(_sorted(boundary + starts), (e_row << 32) + e_start) \
        & _member(_sorted(boundary + ends), (e_row << 32) + e_end)
    order = np.lexsort((e_end, e_start, e_row))
    alone = np.ones(len(order), dtype=bool)
    if len(order) > 1:
        r, st, en = e_row[order], e_start[order], e_end[order]
        same_row = r[1:] == r[:-1]
        big = int(en.max()) + 1
        reach = np.maximum.accumulate(r * big + en) - r * big  # the largest end so far within each row
        overlaps_later = same_row & (st[1:] < en[:-1])  # sorted by start: the next span is the first to overlap
        overlaps_earlier = same_row & (st[1:] < reach[:-1])
        alone[order[:-1][overlaps_later]] = False
        alone[order[1:][overlaps_earlier]] = False
    must = np.flatnonzero(aligned & alone)
    if fits:
        missing = must[~_member(_sorted(decoded.keys()), known.keys(must))]
    else:
        spans = set(decoded.tuples())
        missing = np.array([k for k in must.tolist() if (int(e_row[k]), int(e_start[k]), int(e_end[k]),
                                                          int(known.label[k])) not in spans], dtype=np.int64)
    for k in _first_of_each_row(missing, e_row):
        bad.setdefault(int(e_row[k]), f"the entity {e_start[k]}-{e_end[k]} lies on token boundaries and overlaps"
                                      " no other entity, but ner_tags do not encode it")


def _first_of_each_row(found: np.ndarray, rows: np.ndarray) -> list[int]:
    """The first of ``found`` (indices into ``rows``, in order) in each row they fall in: a row's problem is
    named once, and every row that has one is counted."""
    if not len(found):
        return []
    _, first = np.unique(rows[found], return_index=True)
    return found[np.sort(first)].tolist()


def _sorted(keys: np.ndarray) -> np.ndarray:
    return keys if len(keys) < 2 or bool(np.all(keys[1:] >= keys[:-1])) else np.sort(keys)


def _member(sorted_keys: np.ndarray, query: np.ndarray) -> np.ndarray:
    if len(sorted_keys) == 0:
        return np.zeros(len(query), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_keys, query), len(sorted_keys) - 1)
    return sorted_keys[at] == query


# ------------------------------------------------------------------------------------------------ views
def cross_view(root: str | Path, documents: list[str], view_documents: list[str], steps: tuple[str, ...]) -> CrossScan:
    """Check one split's rows of a view's documents config against its documents rows: the same id and
    ``text_sha256`` (the stored text's), the text normalised with ``steps``, every entity moved onto the view
    (those the view deletes entirely left out) and the relations between the entities kept.  Compared a batch at
    a time, over whole columns."""
    root = Path(root)
    out = CrossScan()
    columns = ["id", "text", "text_sha256", "entities", "relations"]
    originals, views = _Rows(root, documents, columns), _Rows(root, view_documents, columns)
    while True:
        table, _ = originals.take(BATCH_ROWS)
        view_table, where = views.take(BATCH_ROWS)
        if table is None or view_table is None:
            break
        n = min(table.num_rows, view_table.num_rows)
        bad = _compare_view(table.slice(0, n), view_table.slice(0, n), steps)
        for k in sorted(bad):
            file, at = views.locate(where, k)
            out.add(Mismatch("documents", file, at, view_table.column("id")[k].as_py(), bad[k]))
    pa.default_memory_pool().release_unused()
    return out


def _compare_view(docs: pa.Table, view: pa.Table, steps: tuple[str, ...]) -> dict[int, str]:
    """The rows of ``view`` that are not the rows of ``docs`` on the view, with what differs."""
    from corpus_tools.views import normalise

    bad: dict[int, str] = {}
    columns = [docs.column(c).chunk(0) for c in ("id", "text", "entities", "relations")]
    mine = [view.column(c).chunk(0) for c in ("id", "text", "entities", "relations")]
    if any(c.null_count for c in columns + mine) or any(c.flatten().null_count for c in columns[2:] + mine[2:]):
        return bad  # the documents scans report nulls
    for k in _unequal(mine[0], columns[0]).tolist():
        bad[k] = (f"its id {mine[0][k].as_py()!r} is not its documents row's {columns[0][k].as_py()!r} (same order"
                  " expected)")
    for k in _unequal(view.column("text_sha256").chunk(0), docs.column("text_sha256").chunk(0)).tolist():
        bad.setdefault(k, "its text_sha256 is not its documents row's (the sha256 of the stored text)")
    texts = columns[1].to_pylist()
    bases = first_of(np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)))
    whole = normalise("".join(texts), steps)
    to_view = whole.to_view
    view_bases = to_view[np.append(bases, bases[-1] + len(texts[-1]) if texts else 0)].tolist()
    for k, text in enumerate(mine[1].to_pylist()):
        if text != whole.text[view_bases[k]:view_bases[k + 1]]:
            bad.setdefault(k, "its text is not the documents text normalised with the view's steps")
    # entities: each original one moved through the map; those left empty vanish
    fields, got = struct_fields(columns[2].flatten()), struct_fields(mine[2].flatten())
    row = parents(columns[2])
    base = bases[row]
    start = to_view[ints(fields["start"]) + base] - to_view[base]
    end = to_view[ints(fields["end"]) + base] - to_view[base]
    kept = np.flatnonzero(start < end)
    expected_counts = np.bincount(row[kept], minlength=len(texts))
    got_row = parents(mine[2])
    got_counts = np.bincount(got_row, minlength=len(texts))
    differ = expected_counts != got_counts
    if not differ.any():
        same = ((start[kept] == ints(got["start"])) & (end[kept] == ints(got["end"]))
                & (ints(fields["label"])[kept] == ints(got["label"])))
        same &= ~np.isin(np.arange(len(kept)), _unequal(got["id"], fields["id"].take(pa.array(kept))))
        differ[got_row[~same]] = True
    for k in np.flatnonzero(differ).tolist():
        bad.setdefault(k, "its entities are not the documents' entities moved onto the view")
    # relations: those of the documents, less the ones that use an entity the view left out
    vanished_rows = set(row[start >= end].tolist())
    relations, got_relations = columns[3], mine[3]
    if not vanished_rows and relations.equals(got_relations):
        return bad
    for k in range(len(texts)):
        if k in bad:
            continue
        if k not in vanished_rows:
            if not relations[k].equals(got_relations[k]):
                bad[k] = "its relations are not the documents' relations between the entities it keeps"
            continue
        ids = {e["id"] for e in mine[2][k].as_py()}
        wanted = [r for r in relations[k].as_py() if r["head"] in ids and r["tail"] in ids]
        if wanted != got_relations[k].as_py():
            bad[k] = "its relations are not the documents' relations between the entities it keeps"
    return bad


# ------------------------------------------------------------------------------------------- relations
RELATION_COLUMNS = ["document_id", "id", "head_id", "head_start", "head_end", "head_text", "head_label",
                    "tail_id", "tail_start", "tail_end", "tail_text", "tail_label", "label"]


def cross_relations(root: str | Path, documents: list[str], relations: list[str]) -> CrossScan:
    """Check one split's relations rows (``relations``, its files in order) against its documents rows."""
    root = Path(root)
    out = CrossScan()
    _relations(root, documents, relations, out)
    pa.default_memory_pool().release_unused()
    return out


def _relations(root: Path, documents: list[str], relations: list[str], out: CrossScan) -> None:
    docs = _Rows(root, documents, ["id", "entities", "relations"])
    rows = _Rows(root, relations, RELATION_COLUMNS)
    while True:
        doc_table, _ = docs.take(BATCH_ROWS)
        if doc_table is None:
            return
        doc_relations = doc_table.column("relations").chunk(0)
        if doc_relations.null_count or doc_relations.flatten().null_count:
            return  # the documents scan reports it
        wanted = len(doc_relations.flatten())
        if wanted == 0:
            continue
        table, where = rows.take(wanted)
        if table is None:
            return
        n = min(wanted, table.num_rows)
        _compare_relations(doc_table, table, n, lambda k, w=where: rows.locate(w, k), out)


def _compare_relations(docs: pa.Table, table: pa.Table, n: int, locate, out: CrossScan) -> None:
    doc_relations = docs.column("relations").chunk(0)
    rel = {f.name: a.slice(0, n) for f, a in zip(doc_relations.type.value_type, doc_relations.flatten().flatten(),
                                                  strict=True)}
    owner = parents(doc_relations)[:n]
    doc_ids = docs.column("id").chunk(0)
    entities = docs.column("entities").chunk(0)
    spans = entities.flatten()
    if entities.null_count or spans.null_count:
        return
    ent = struct_fields(spans)
    e_row = parents(entities)
    cols = {name: table.column(name).chunk(0).slice(0, n) for name in RELATION_COLUMNS}
    bad: dict[int, str] = {}

    def differ(what: str, found: pa.Array, expected: pa.Array) -> None:
        for k in _unequal(found, expected).tolist():
            bad.setdefault(k, what)

    differ("its document_id is not the document the relation belongs to", cols["document_id"],
           doc_ids.take(int64_array(owner)))
    differ("its id is not the relation's", cols["id"], rel["id"])
    differ("its label is not the relation's", cols["label"], rel["label"])
    differ("its head_id is not the relation's head", cols["head_id"], rel["head"])
    differ("its tail_id is not the relation's tail", cols["tail_id"], rel["tail"])
    both = find_in_rows(e_row, ent["id"], np.concatenate([owner, owner]), pa.concat_arrays([rel["head"], rel["tail"]]))
    for end, at in (("head", both[:len(owner)]), ("tail", both[len(owner):])):
        for k in np.flatnonzero(at < 0).tolist():
            bad.setdefault(k, f"its {end} is not an entity of the document")
        index = int64_array(np.where(at >= 0, at, 0))
        if len(ent["id"]) == 0:
            continue
        for name in ("start", "end", "text", "label"):
            differ(f"its {end}_{name} is not the {end} entity's {name}", cols[f"{end}_{name}"],
                   ent[name].take(index))
    for k in sorted(bad):
        file, at = locate(k)
        out.add(Mismatch("relations", file, at, doc_ids[int(owner[k])].as_py(), bad[k]))


def _unequal(found: pa.Array, expected: pa.Array) -> np.ndarray:
    """The positions where two arrays differ (a null differs from everything)."""
    if not found.null_count and found.equals(expected):  # one call where they agree, as in a sound release
        return np.zeros(0, dtype=np.int64)
    same = pc.equal(found, expected)
    return ints(pc.indices_nonzero(pc.or_kleene(pc.invert(same), pc.is_null(same))))
