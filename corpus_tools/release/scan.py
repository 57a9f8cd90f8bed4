"""Vectorised data checks of one release Parquet file (the fast path of ``release_checks``).

:func:`scan_file` streams a file in large record batches and answers, without a Python loop
per row: the count of missing or out-of-range ClassLabel ids per column (exact, so reported as
is), and whether every entity's ``text[start:end]`` equals its text, every relation's head and
tail is an entity id of its document and every tokens row is consistent (``clean``).  When a
file is not clean, ``release_checks`` reads it again with the row-by-row checks, which locate
each problem.  Also returned: the document ids, the sha256 of each document's UTF-8 text and
the number of relations, for the cross-file checks (duplicates, splits, relation counts).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
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
    int_values,
    ints,
    parents,
    sha256_each,
    string_buffers,
)
from corpus_tools.release.consistency import CrossScan

SCAN_ROWS = 2048  # rows per batch in threads (fewer batches: less time holding the GIL)
PROCESS_SCAN_ROWS = 512  # in worker processes (each holds its own batch, and small buffers are reused rather
# than mapped and faulted in again: a quarter less memory and a third less system time than 2048)
CHUNK_GROUPS = 16  # row groups per scan job: a big file is scanned by several workers at once; each job
# opens the file again (1-4 ms of footer), so not fewer
DOCUMENT_COLUMNS = ["id", "text", "entities", "relations"]
TOKEN_COLUMNS = ["id", "tokens", "token_start", "token_end", "ner_tags"]
TOKEN_STRINGS = "tokens.list.element"


@dataclass
class FileScan:
    """What one pass over a Parquet file found."""

    labels: Counter[str] = field(default_factory=Counter)  # "column" or "column.field" -> bad ids
    clean: bool = True
    ids: list[str | None] = field(default_factory=list)
    text_keys: list[bytes] = field(default_factory=list)
    relations: int = 0
    cross: CrossScan | None = None  # a tokens file scanned against its documents rows


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
              against: tuple[Path, list[str], str, int] | None = None) -> FileScan:
    """One streaming pass over ``path`` (a file of ``config`` whose schema matched), or over some of its
    row groups (:func:`merge_scans` joins the parts of a file, in order).

    ``against`` (a tokens file): the release folder, the split's documents files, this file's path in the
    release and the split row of its first row; each tokens row is then also compared with its documents row
    (:class:`~corpus_tools.release.consistency.TokensAgainstDocuments`; the mismatches are in ``cross``)."""
    columns = {c for c, _, _ in classlabels}
    if config == "documents":
        columns.update(DOCUMENT_COLUMNS)
    elif config == "tokens":
        columns.update(TOKEN_COLUMNS)
    out = FileScan()
    for column, sub, _ in classlabels:
        out.labels[f"{column}.{sub}" if sub else column] += 0
    if not columns:
        return out
    cross = None
    if against is not None and config == "tokens":
        from corpus_tools.release.consistency import TokensAgainstDocuments

        root, documents, rel, file_first_row = against
        first_rows = _first_rows(path)
        groups = list(range(len(first_rows) - 1)) if row_groups is None else list(row_groups)
        start = file_first_row + (first_rows[groups[0]] if groups else 0)
        cross = TokensAgainstDocuments(root, documents, rel, start)
    for group, batch in _batches(path, config, sorted(columns), row_groups, batch_rows or SCAN_ROWS):
        if cross is not None:
            cross.check(rel, first_rows[group], batch)
        for column, sub, n in classlabels:
            values, valid = int_values(label_values(batch, column, sub))
            bad = (values < 0) | (values >= n)
            if valid is not None:
                bad |= ~valid  # a missing id counts as out of range
            out.labels[f"{column}.{sub}" if sub else column] += int(np.count_nonzero(bad))
        if config == "documents":
            _scan_documents(batch, out)
        elif config == "tokens" and out.clean:
            out.clean = _tokens_ok(batch)
    if cross is not None:
        out.cross = cross.out
    # the allocator keeps freed buffers; several scans run at once (in the build's workers, on every core)
    pa.default_memory_pool().release_unused()
    return out


def _first_rows(path: Path) -> list[int]:
    """The file row of each row group's first row, and the file's row count last."""
    meta = pq.ParquetFile(path).metadata
    rows = [0]
    for group in range(meta.num_row_groups):
        rows.append(rows[-1] + meta.row_group(group).num_rows)
    return rows


def _batches(path: Path, config: str, columns: list[str], row_groups: Sequence[int] | None,
             batch_rows: int) -> Iterator[tuple[int, pa.RecordBatch]]:
    """The file's record batches (with their row group for a tokens file; -1 otherwise).  Token strings are
    read as dictionary indices (a row group's few thousand distinct tokens decoded once, not each of its
    hundreds of thousands of tokens), one batch per row group (one dictionary per batch); a row group pyarrow
    cannot read so is read as plain strings, in one batch too."""
    if config != "tokens":
        reader = pq.ParquetFile(path, buffer_size=1 << 20)
        for batch in reader.iter_batches(batch_size=batch_rows, columns=columns, row_groups=row_groups):
            yield -1, batch
        return
    coded = pq.ParquetFile(path, buffer_size=1 << 20, read_dictionary=[TOKEN_STRINGS])
    for group in range(coded.metadata.num_row_groups) if row_groups is None else row_groups:
        size = max(1, coded.metadata.row_group(group).num_rows)
        try:
            batches = list(coded.iter_batches(batch_size=size, columns=columns, row_groups=[group]))
        except pa.ArrowNotImplementedError:
            plain = pq.ParquetFile(path, buffer_size=1 << 20)
            batches = list(plain.iter_batches(batch_size=size, columns=columns, row_groups=[group]))
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


def merge_scans(parts: Sequence[FileScan]) -> FileScan:
    """One file's scan from the scans of its row-group chunks (in row order)."""
    out = FileScan()
    for part in parts:
        out.labels.update(part.labels)
        out.clean = out.clean and part.clean
        out.ids += part.ids
        out.text_keys += part.text_keys
        out.relations += part.relations
        if part.cross is not None:
            out.cross = out.cross or CrossScan()
            for mismatch in part.cross.mismatches:
                out.cross.mismatches.append(mismatch)
            for name, count in part.cross.counts.items():
                out.cross.counts[name] += count
    return out


def _scan_documents(batch: pa.RecordBatch, out: FileScan) -> None:
    text = batch.column("text")
    entities = batch.column("entities")
    relations = batch.column("relations")
    out.ids += batch.column("id").to_pylist()
    out.relations += pc.sum(pc.list_value_length(relations)).as_py() or 0
    out.text_keys += sha256_each(text)
    if text.null_count:
        out.clean = False
        return
    if out.clean:
        out.clean = _entities_ok(text, string_buffers(text)[1], entities) and _relations_ok(entities, relations)


def _fields(structs: pa.StructArray) -> dict[str, pa.Array]:
    return {f.name: a for f, a in zip(structs.type, structs.flatten(), strict=True)}


def _entities_ok(text: pa.Array, data: np.ndarray, entities: pa.ListArray) -> bool:
    """Every entity of the batch has 0 <= start <= end <= len(text) and text[start:end] == its text."""
    spans = entities.flatten()
    if len(spans) == 0:
        return True
    if spans.null_count:
        return False
    fields = _fields(spans)
    start, end, span_text = fields["start"], fields["end"], fields["text"]
    if start.null_count or end.null_count or span_text.null_count:
        return False
    parent = parents(entities)
    length = ints(pc.utf8_length(text))  # code points of each text
    s, e = ints(start), ints(end)
    if not np.all((s >= 0) & (s <= e) & (e <= length[parent])):
        return False
    span_length = ints(pc.utf8_length(span_text))
    if not np.array_equal(span_length, e - s):
        return False
    total = int(span_length.sum())
    if total == 0:
        return True
    points = code_points(data)
    span_points = code_points(string_buffers(span_text)[1])
    if points is None or span_points is None or len(points) != int(length.sum()):
        return False
    # code point j of the spans' texts is code point j - span_starts[k] of span k, at
    # text_starts[parent[k]] + s[k] + that in the batch's texts
    at = np.repeat(first_of(length)[parent] + s - first_of(span_length), span_length) + np.arange(total)
    return bool(np.array_equal(points[at], span_points))


def _relations_ok(entities: pa.ListArray, relations: pa.ListArray) -> bool:
    """Every relation's head and tail is the id of an entity of the same row."""
    rels = relations.flatten()
    if len(rels) == 0:
        return True
    if rels.null_count:
        return False
    spans = entities.flatten()
    if spans.null_count:
        return False
    span_ids = _fields(spans)["id"]
    fields = _fields(rels)
    head, tail = fields["head"], fields["tail"]
    if span_ids.null_count or head.null_count or tail.null_count:
        return False
    known, owners = parents(entities), parents(relations)
    return bool(np.all(find_in_rows(known, span_ids, owners, head) >= 0)
                and np.all(find_in_rows(known, span_ids, owners, tail) >= 0))


def _tokens_ok(batch: pa.RecordBatch) -> bool:
    """The tokens rows' lists have one length and every token's length is token_end - token_start."""
    lengths = [pc.list_value_length(batch.column(c)) for c in ("tokens", "token_start", "token_end", "ner_tags")]
    same = pc.and_(pc.and_(pc.equal(lengths[0], lengths[1]), pc.equal(lengths[0], lengths[2])),
                   pc.equal(lengths[0], lengths[3]))
    if same.null_count or not pc.all(same).as_py():
        return False
    starts, ends = batch.column("token_start").flatten(), batch.column("token_end").flatten()
    tokens = batch.column("tokens").flatten()
    if starts.null_count or ends.null_count or tokens.null_count:
        return False
    if pa.types.is_dictionary(tokens.type):
        if tokens.dictionary.null_count:
            return False
        token_lengths = ints(pc.utf8_length(tokens.dictionary))[ints(tokens.indices)]
    else:
        token_lengths = ints(pc.utf8_length(tokens))
    return bool(np.array_equal(token_lengths, ints(ends) - ints(starts)))
