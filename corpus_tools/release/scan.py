"""The data checks of one release Parquet file, over whole record batches.

:func:`scan_file` streams a file (or a chunk of its row groups) in large record batches and finds, without a
Python loop per row: missing or out-of-range ClassLabel ids per column (counted), entities whose
``text[start:end]`` is not their text, relations whose head or tail is not an entity of their document, tokens
rows whose lists differ in length or whose tokens differ in length from their offsets, and strings that are not
UTF-8.  It locates the first :data:`LOCATED` problems of each code (file row, document id) and counts the rest.
Also returned: the document ids, the sha256 of each document's UTF-8 text and the number of relations, for the
checks across files (duplicates, splits, relation counts) that ``release.checks`` runs once per release.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from corpus_tools.columns import (
    code_points,
    find_in_rows,
    first_of,
    int64_array,
    int_view,
    ints,
    parents,
    row_group_batches,
    sha256_each,
    string_buffers,
    struct_fields,
    utf8_text,
)
from corpus_tools.release import manifest as R
from corpus_tools.release.consistency import LOCATED, CrossScan

SCAN_ROWS = 2048  # rows per batch in threads (fewer batches: less time holding the GIL)
PROCESS_SCAN_ROWS = 512  # in worker processes: each holds its own batch, and small buffers are reused
CHUNK_GROUPS = 16  # row groups per scan job: a big file is scanned by several workers at once; each job
# opens the file again (its footer), so not fewer
DOCUMENT_COLUMNS = ["id", "text", "entities", "relations"]
TOKEN_COLUMNS = ["id", "tokens", "token_start", "token_end", "ner_tags"]
TOKEN_STRINGS = "tokens.list.element"


@dataclass
class Finding:
    """One located problem of a file: its code, message and ``details`` (the file row, maybe the document id)."""

    code: str
    message: str
    details: dict[str, object]


@dataclass
class FileScan:
    """What one pass over a Parquet file found."""

    labels: Counter[str] = field(default_factory=Counter)  # "column" or "column.field" -> bad ids
    findings: list[Finding] = field(default_factory=list)  # the first LOCATED of each code, in row order
    counts: Counter[str] = field(default_factory=Counter)  # every problem found, per code
    ids: list[str | None] = field(default_factory=list)
    text_keys: list[bytes] = field(default_factory=list)
    text_sha256: list[str | None] = field(default_factory=list)  # the column as stored (empty when absent)
    relations: int = 0
    cross: CrossScan | None = None  # a tokens file scanned against its documents rows

    @property
    def clean(self) -> bool:
        return not self.counts

    def add(self, finding: Finding) -> None:
        self.counts[finding.code] += 1
        if self.counts[finding.code] <= LOCATED:
            self.findings.append(finding)

    def add_all(self, code: str, positions: np.ndarray, finding: Callable[[int], Finding]) -> None:
        """Problems of ``code`` at ``positions``: ``finding`` builds those still to be located, the rest are
        counted (so a badly damaged file costs no message per problem)."""
        if not len(positions):
            return
        room = max(0, LOCATED - self.counts[code])
        self.findings += [finding(k) for k in positions[:room].tolist()]
        self.counts[code] += len(positions)

    def merge(self, part: FileScan) -> None:
        """Add the scan of the next chunk of the file's rows, all but its rows' ids and digests (which the checks
        across files take a chunk at a time): the counts, the first few problems of each code, the relations and
        the cross-config mismatches."""
        self.labels.update(part.labels)
        for finding in part.findings:  # the part's first few of each code, in row order
            if sum(f.code == finding.code for f in self.findings) < LOCATED:
                self.findings.append(finding)
        self.counts.update(part.counts)
        self.relations += part.relations
        if part.cross is not None:
            self.cross = self.cross or CrossScan()
            for mismatch in part.cross.mismatches:  # the first few of the file, as one scan of it keeps
                if sum(m.config == mismatch.config for m in self.cross.mismatches) < LOCATED:
                    self.cross.mismatches.append(mismatch)
            for name, count in part.cross.counts.items():
                self.cross.counts[name] += count


def label_values(batch: pa.RecordBatch, column: str, field: str | None) -> pa.Array:
    """The ids of a ClassLabel column (a list's items, or a field of a list of structs)."""
    array = batch.column(column)
    if pa.types.is_list(array.type) or pa.types.is_large_list(array.type):
        array = array.flatten()
    if field is not None:
        index = array.type.get_field_index(field)
        array = array.flatten()[index]
    return array


def scan_file(path: Path, config: str, classlabels: list[tuple[str, str | None, int]],
              row_groups: Sequence[int] | None = None, batch_rows: int | None = None,
              against: tuple[Path, list[str], str, int, str | None] | None = None) -> FileScan:
    """One streaming pass over ``path`` (a file of ``config`` whose schema matched), or over some of its
    row groups (:meth:`FileScan.merge` joins the parts of a file, in order; the checks across files take the
    rows' ids and digests a part at a time).

    ``against`` (a tokens file): the release folder, the split's documents files, this file's path in the
    release, the split row of its first row and the tokenizer's segmentation (None: unknown); each tokens
    row is then also compared with its documents row
    (:class:`~corpus_tools.release.consistency.TokensAgainstDocuments`; the mismatches are in ``cross``)."""
    columns = {c for c, _, _ in classlabels}
    if config == "documents":
        columns.update(DOCUMENT_COLUMNS)
    elif config == "tokens":
        columns.update(TOKEN_COLUMNS)
    # the footer parsed once for the whole scan: a file of many small row groups has a large one (the relations
    # file of a 1M release: 2,399 row groups, 36 MB parsed, 29 ms a parse), and each chunk of a file parses it
    meta = pq.read_metadata(path)
    # Parquet readers hand on strings that are not UTF-8 unchecked: every column holding strings is checked
    others = sorted(set(_string_columns(path, meta)) - set(DOCUMENT_COLUMNS if config == "documents" else ()))
    columns.update(others)
    out = FileScan()
    for column, sub, _ in classlabels:
        out.labels[f"{column}.{sub}" if sub else column] += 0
    if not columns:
        return out
    cross = None
    if against is not None and config == "tokens":
        from corpus_tools.release.consistency import TokensAgainstDocuments

        root, documents, rel, file_first_row, segmentation = against
        first_rows = _first_rows(meta)
        groups = list(range(len(first_rows) - 1)) if row_groups is None else list(row_groups)
        start = file_first_row + (first_rows[groups[0]] if groups else 0)
        cross = TokensAgainstDocuments(root, documents, rel, start, segmentation)
    row = _first_rows(meta)[row_groups[0]] if row_groups else 0  # the file row of the chunk's first row
    for group, batch in _batches(path, config, sorted(columns), row_groups, batch_rows or SCAN_ROWS, meta):
        if cross is not None:
            cross.check(rel, first_rows[group], batch)
        for column, sub, n in classlabels:
            values, valid = int_view(label_values(batch, column, sub))
            bad = (values < 0) | (values >= n)
            if valid is not None:
                bad |= ~valid  # a missing id counts as out of range
            out.labels[f"{column}.{sub}" if sub else column] += int(np.count_nonzero(bad))
        _not_utf8(batch, others, row, out)
        if config == "documents":
            _scan_documents(batch, row, out)
        elif config == "tokens":
            _scan_tokens(batch, row, out)
        row += batch.num_rows
    if cross is not None:
        out.cross = cross.out
    # the allocator keeps freed buffers; several scans run at once (in the build's workers, on every core)
    pa.default_memory_pool().release_unused()
    return out


def _string_columns(path: Path, meta: pq.FileMetaData) -> list[str]:
    """The columns of a Parquet file (its footer: ``meta``) that hold strings (themselves, or in their lists and
    structs)."""

    def holds_strings(kind: pa.DataType) -> bool:
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            return True
        if pa.types.is_list(kind) or pa.types.is_large_list(kind):
            return holds_strings(kind.value_type)
        return pa.types.is_struct(kind) and any(holds_strings(field.type) for field in kind)

    return [field.name for field in pq.ParquetFile(path, metadata=meta).schema_arrow if holds_strings(field.type)]


def _first_rows(meta: pq.FileMetaData) -> list[int]:
    """The file row of each row group's first row, and the file's row count last (``meta``: its footer)."""
    rows = [0]
    for group in range(meta.num_row_groups):
        rows.append(rows[-1] + meta.row_group(group).num_rows)
    return rows


def _batches(path: Path, config: str, columns: list[str], row_groups: Sequence[int] | None,
             batch_rows: int, meta: pq.FileMetaData) -> Iterator[tuple[int, pa.RecordBatch]]:
    """The file's record batches (with their row group for a tokens file; -1 otherwise).  Token strings are
    read as dictionary indices (a row group's few thousand distinct tokens decoded once, not each of its
    hundreds of thousands of tokens), one batch per row group (one dictionary per batch); a row group pyarrow
    cannot read so is read as plain strings, in one batch too."""
    # not pre-buffered: pyarrow would fetch each row group whole into buffers of Arrow's default allocator (mimalloc,
    # not the scans' system one), which keeps their freed pages: more the more row groups are read (docs/benchmarks.md)
    if config != "tokens":
        reader = pq.ParquetFile(path, metadata=meta, buffer_size=1 << 20, pre_buffer=False)
        for _, batch in row_group_batches(reader, row_groups, batch_size=batch_rows, columns=columns):
            yield -1, batch
        return
    coded = pq.ParquetFile(path, metadata=meta, buffer_size=1 << 20, pre_buffer=False, read_dictionary=[TOKEN_STRINGS])
    for group in range(coded.metadata.num_row_groups) if row_groups is None else row_groups:
        size = max(1, coded.metadata.row_group(group).num_rows)
        try:
            batches = list(coded.iter_batches(batch_size=size, columns=columns, row_groups=[group], use_threads=False))
        except pa.ArrowNotImplementedError:
            plain = pq.ParquetFile(path, metadata=meta, buffer_size=1 << 20, pre_buffer=False)
            batches = list(plain.iter_batches(batch_size=size, columns=columns, row_groups=[group], use_threads=False))
        for batch in batches:
            yield group, batch


def row_group_chunks(path: Path, groups: int | None = None) -> list[list[int]] | None:
    """The file's row groups, ``groups`` (default :data:`CHUNK_GROUPS`) at a time (None when its footer cannot
    be read)."""
    groups = groups or CHUNK_GROUPS
    try:
        count = pq.ParquetFile(path).metadata.num_row_groups
    except Exception:  # noqa: BLE001 - the schema check reports an unreadable file
        return None
    return [list(range(first, min(first + groups, count))) for first in range(0, count, groups)] or [[]]


def _scan_documents(batch: pa.RecordBatch, first_row: int, out: FileScan) -> None:
    """The documents rows of ``batch`` (file rows ``first_row``...): strings that are not UTF-8, entity texts,
    relation ends; and their ids, text digests and relation count for the checks across files."""
    text = batch.column("text")
    points = code_points(string_buffers(text)[1])  # None: a text is not UTF-8
    broken = _not_utf8(batch, DOCUMENT_COLUMNS if points is None else ["id", "entities", "relations"], first_row,
                       out)
    out.ids += _values(batch.column("id"))
    out.text_keys += sha256_each(text) if points is not None else [
        hashlib.sha256((t or "").encode("utf-8")).digest() for t in _values(text)]
    if "text_sha256" in batch.schema.names:
        out.text_sha256 += _values(batch.column("text_sha256"))
    out.relations += pc.sum(pc.list_value_length(batch.column("relations"))).as_py() or 0
    rows = np.arange(batch.num_rows)
    if broken is not None:  # the rows holding such strings are reported once, as not UTF-8
        rows = np.flatnonzero(~broken)
        batch = _rows(batch, rows)
        text = batch.column("text")
        points = code_points(string_buffers(text)[1])
    ids, entities, relations = batch.column("id"), batch.column("entities"), batch.column("relations")
    spans, owner = entities.flatten(), parents(entities)

    def span_text(k: int) -> Finding:
        span = spans[k].as_py() or {}
        doc_id = ids[int(owner[k])].as_py()
        return Finding(R.SPAN_TEXT, f"Entity {span.get('id')!r} of {doc_id!r}: text[{span.get('start')}:"
                       f"{span.get('end')}] != {span.get('text')!r}.",
                       {"row": first_row + int(rows[owner[k]]), "document_id": doc_id})

    rels, rel_owner = relations.flatten(), parents(relations)

    def dangling(k: int) -> Finding:
        relation_id = struct_fields(rels)["id"][k].as_py()
        doc_id = ids[int(rel_owner[k])].as_py()
        return Finding(R.RELATION_DANGLING, f"Relation {relation_id!r} of {doc_id!r} points to a missing entity.",
                       {"row": first_row + int(rows[rel_owner[k]]), "document_id": doc_id})

    out.add_all(R.SPAN_TEXT, bad_entities(text, entities, points), span_text)
    out.add_all(R.RELATION_DANGLING, dangling_relations(entities, relations), dangling)

def _values(array: pa.Array) -> list:
    """A column's values as Python objects, None for a value holding a string that is not UTF-8."""
    try:
        return array.to_pylist()
    except UnicodeDecodeError:
        values = []
        for k in range(len(array)):
            try:
                values.append(array[k].as_py())
            except UnicodeDecodeError:
                values.append(None)
        return values


def _rows(batch: pa.RecordBatch, rows: np.ndarray) -> pa.RecordBatch:
    """These rows of ``batch``."""
    return batch.take(int64_array(rows))


def _string_leaves(array: pa.Array) -> Iterator[pa.Array]:
    """The string arrays inside a column (itself, or in its lists and structs)."""
    kind = array.type
    if pa.types.is_string(kind):
        yield array
    elif pa.types.is_dictionary(kind):  # token strings, read as dictionary indices
        yield from _string_leaves(array.dictionary)
    elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
        yield from _string_leaves(array.flatten())
    elif pa.types.is_struct(kind):
        for child in array.flatten():
            yield from _string_leaves(child)


def _is_utf8(array: pa.Array) -> bool:
    return all(utf8_text(string_buffers(strings)[1]) is not None for strings in _string_leaves(array))


def _not_utf8(batch: pa.RecordBatch, columns: list[str], first_row: int, out: FileScan) -> np.ndarray | None:
    """Rows of ``batch`` holding a string that is not UTF-8 (Parquet readers do not check it), each reported with
    its column; None when there is none."""
    broken = None
    for column in columns:
        array = batch.column(column)
        if _is_utf8(array):
            continue
        broken = np.zeros(batch.num_rows, dtype=bool) if broken is None else broken
        for k in range(len(array)):
            try:
                array[k].as_py()
            except UnicodeDecodeError as exc:
                broken[k] = True
                out.add(Finding(R.NOT_UTF8, f"The {column} of row {first_row + k} holds a string that is not UTF-8"
                                f" ({exc.reason} at byte {exc.start}).", {"row": first_row + k, "column": column}))
    return broken


def _valid(array: pa.Array) -> np.ndarray:
    """Which values are not null, from the validity bitmap (to_numpy would import pandas)."""
    if not array.null_count:
        return np.ones(len(array), dtype=bool)
    bits = np.unpackbits(np.frombuffer(array.buffers()[0], dtype=np.uint8), bitorder="little")
    return bits[array.offset:array.offset + len(array)].astype(bool)


def bad_entities(text: pa.Array, entities: pa.ListArray, points: np.ndarray | None = None) -> np.ndarray:
    """The entities (positions in ``entities.flatten()``) whose offsets do not fit ``0 <= start <= end <=
    len(text)`` or whose ``text[start:end]`` is not their text (``text``: valid UTF-8, a null read as "";
    ``points``: its code points when the caller has them)."""
    spans = entities.flatten()
    n = len(spans)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    fields = struct_fields(spans)
    start, end, span_text = fields["start"], fields["end"], fields["text"]
    ok = _valid(start) & _valid(end) & _valid(span_text)
    parent = parents(entities)
    length = ints(pc.utf8_length(text), null=0)  # code points of each text
    s, e = ints(start), ints(end)
    span_length = ints(pc.utf8_length(span_text), null=0)
    ok &= (s >= 0) & (s <= e) & (e <= length[parent]) & (span_length == e - s)
    compared = np.where(ok, span_length, 0)  # the code points compared of each entity
    total = int(compared.sum())
    if total:
        points = code_points(string_buffers(text)[1]) if points is None else points
        span_points = code_points(string_buffers(span_text)[1])
        piece = first_of(compared)  # where each entity's code points start among those compared
        step = np.arange(total)
        # code point j of entity k is code point first_of(length)[parent[k]] + s[k] + j of the batch's texts
        at = np.repeat(first_of(length)[parent] + s - piece, compared)
        at += step
        if ok.all():  # every entity's text is compared: they are span_points, in order
            expected = span_points
        else:
            expected = np.repeat(first_of(span_length) - piece, compared)
            expected += step
            expected = span_points[expected]
        del step
        differ = np.flatnonzero(points[at] != expected)
        ok[np.searchsorted(piece, differ, side="right") - 1] = False
    return np.flatnonzero(~ok)


def dangling_relations(entities: pa.ListArray, relations: pa.ListArray) -> np.ndarray:
    """The relations (positions in ``relations.flatten()``) whose head or tail is not the id of an entity of the
    same row."""
    rels = relations.flatten()
    if len(rels) == 0:
        return np.zeros(0, dtype=np.int64)
    span_ids = struct_fields(entities.flatten())["id"]
    fields = struct_fields(rels)
    known, owners = parents(entities), parents(relations)
    ends = find_in_rows(known, span_ids, np.concatenate([owners, owners]), pa.concat_arrays([fields["head"],
                                                                                            fields["tail"]]))
    return np.flatnonzero((ends[:len(owners)] < 0) | (ends[len(owners):] < 0))


def _scan_tokens(batch: pa.RecordBatch, first_row: int, out: FileScan) -> None:
    """The tokens rows of ``batch`` (file rows ``first_row``...): lists of one length, and every token's length
    ``token_end - token_start``."""
    lengths = [ints(pc.list_value_length(batch.column(c))) for c in ("tokens", "token_start", "token_end",
                                                                      "ner_tags")]
    same = (lengths[0] >= 0) & (lengths[0] == lengths[1]) & (lengths[0] == lengths[2]) & (lengths[0] == lengths[3])
    out.add_all(R.TOKEN_OFFSETS, np.flatnonzero(~same), lambda row: Finding(
        R.TOKEN_OFFSETS, "tokens, token_start, token_end and ner_tags differ in length.", {"row": first_row + row}))
    rows = None
    if not same.all():
        rows = np.flatnonzero(same)
        batch = _rows(batch, rows)
    bad = bad_token_rows(batch)
    out.add_all(R.TOKEN_OFFSETS, bad if rows is None else rows[bad], lambda row: Finding(
        R.TOKEN_OFFSETS, "A token's length differs from token_end - token_start.", {"row": first_row + row}))

def bad_token_rows(batch: pa.RecordBatch) -> np.ndarray:
    """The rows (lists of one length) holding a token whose length is not ``token_end - token_start``."""
    tokens = batch.column("tokens")
    starts, ends, strings = batch.column("token_start").flatten(), batch.column("token_end").flatten(), tokens.flatten()
    if pa.types.is_dictionary(strings.type):  # each distinct string measured once
        codes, valid = int_view(strings.indices)
        lengths = ints(pc.utf8_length(strings.dictionary), null=-1)
        token_lengths = lengths[np.where(valid, codes, 0) if valid is not None else codes] if len(codes) else codes
    else:
        token_lengths = ints(pc.utf8_length(strings), null=-1)
    # the buffers as they are (no int64 copies of the columns), the difference taken in int64
    ok = (token_lengths >= 0) & (token_lengths == np.subtract(int_view(ends)[0], int_view(starts)[0], dtype=np.int64))
    if starts.null_count or ends.null_count or strings.null_count:
        ok &= _valid(starts) & _valid(ends) & _valid(strings)
    if ok.all():
        return np.zeros(0, dtype=np.int64)
    return np.unique(parents(tokens)[~ok])
