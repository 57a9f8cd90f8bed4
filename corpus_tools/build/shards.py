"""Deterministic, size-capped Parquet shards for one config split.

Rows arrive as Arrow tables (:meth:`ShardWriter.write_table`, from the parallel build) or one at a
time (:meth:`ShardWriter.write`, converted to record batches in small chunks).  Either way they are
cut into row groups by the rows alone: a group closes after ``row_group_rows`` rows, or earlier once
its rows hold ``MAX_GROUP_BYTES`` of string data (long documents keep memory flat), so the files do
not depend on how the rows arrived.  Each group is written with zstd compression, dictionary
encoding only where the caller says values repeat (token strings and tags), the caller's column
encodings (delta for offsets that grow along a row), no column statistics (nothing filters these
files by value), and the explicit schema ``features.arrow_schema`` (which carries the
``huggingface`` metadata).  A shard is closed
once its file reaches ``max_shard_bytes``.  Shards are written under temporary names and renamed
to ``<split>-NNNNN-of-NNNNN.parquet`` by :meth:`ShardWriter.close`, once their number is known.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from corpus_tools.columns import ints

ROW_GROUP_ROWS = 1_000
MAX_SHARD_BYTES = 256 * 1024 * 1024
COMPRESSION = "zstd"
# Rows given one at a time are turned into Arrow record batches this many at a time.
CHUNK_ROWS = 64
# A row group is also closed once its rows hold this many bytes of strings, so long documents keep memory flat.
MAX_GROUP_BYTES = 32 * 1024 * 1024
BatchMaker = Callable[[Sequence[Any], pa.Schema], pa.RecordBatch]


def pylist_batch(rows: Sequence[dict], schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist(rows, schema=schema)


def row_weights(table: pa.Table) -> np.ndarray:
    """Bytes of string data per row: string columns and lists of strings (what makes a row big)."""
    weights = np.zeros(table.num_rows, dtype=np.int64)
    base = 0
    for batch in table.to_batches():
        n = batch.num_rows
        for array in batch.columns:
            kind = array.type
            if pa.types.is_string(kind):
                weights[base:base + n] += _string_bytes(array)
            elif pa.types.is_list(kind) and pa.types.is_string(kind.value_type) and n:
                offsets = ints(array.offsets)
                values = array.values.slice(offsets[0], offsets[-1] - offsets[0])
                bounds = np.concatenate([[0], np.cumsum(_string_bytes(values))])
                offsets = offsets - offsets[0]
                weights[base:base + n] += bounds[offsets[1:]] - bounds[offsets[:-1]]
        base += n
    return weights


def _string_bytes(array: pa.Array) -> np.ndarray:
    return ints(pc.binary_length(array), null=0)


class ShardWriter:
    """Writes the rows of one config split into ``directory``.

    Rows are dicts by default; ``make_batch`` turns a chunk of rows of another form into a record
    batch of ``schema`` (the tokens rows of a document JSONL build are one-row record batches).
    :meth:`write_table` takes rows already in Arrow form.
    """

    def __init__(
        self,
        directory: Path,
        split: str,
        schema: pa.Schema,
        *,
        row_group_rows: int = ROW_GROUP_ROWS,
        max_shard_bytes: int = MAX_SHARD_BYTES,
        make_batch: BatchMaker = pylist_batch,
        dictionary: bool | list[str] = True,
        column_encoding: dict[str, str] | None = None,
    ) -> None:
        if row_group_rows < 1 or max_shard_bytes < 1:
            raise ValueError("row_group_rows and max_shard_bytes must be positive")
        self.directory = directory
        self.split = split
        self.schema = schema
        self.row_group_rows = row_group_rows
        self.max_shard_bytes = max_shard_bytes
        self._make_batch = make_batch
        self._dictionary = dictionary
        self._column_encoding = column_encoding
        # One empty chunk per column (Schema.empty_table would import pandas: a quarter second).
        self._empty = pa.Table.from_batches([pa.RecordBatch.from_arrays(
            [pa.nulls(0, f.type) for f in schema], schema=schema)])
        self.num_rows = 0
        self.num_bytes = 0  # Arrow (in-memory) size, reported as num_bytes in the card
        self._buffer: list[Any] = []
        self._group: list[pa.Table] = []
        self._group_rows = 0
        self._group_bytes = 0
        self._parts: list[tuple[Path, int]] = []  # (temp path, rows)
        self._file: BinaryIO | None = None
        self._writer: pq.ParquetWriter | None = None
        self._part_rows = 0

    def write(self, row: Any) -> None:
        self._buffer.append(row)
        if len(self._buffer) >= CHUNK_ROWS:
            self._drain_buffer()

    def _drain_buffer(self) -> None:
        if self._buffer:
            batch = self._make_batch(self._buffer, self.schema)
            self._buffer = []
            self.write_table(pa.Table.from_batches([batch], schema=self.schema))

    def write_table(self, table: pa.Table, weights: np.ndarray | None = None) -> None:
        """Append rows (``table`` has this writer's schema, ``weights`` its :func:`row_weights` if known);
        full row groups are written at once."""
        weights = np.cumsum(row_weights(table) if weights is None else weights)
        while table.num_rows:
            by_rows = self.row_group_rows - self._group_rows - 1
            by_bytes = int(np.searchsorted(weights, MAX_GROUP_BYTES - self._group_bytes, side="left"))
            last = min(by_rows, by_bytes)
            if last >= table.num_rows:
                self._group.append(table)
                self._group_rows += table.num_rows
                self._group_bytes += int(weights[-1])
                return
            self._group.append(table.slice(0, last + 1))
            self._group_rows += last + 1
            self._flush()
            table = table.slice(last + 1)
            weights = weights[last + 1:] - weights[last]

    def _flush(self) -> None:
        if not self._group:
            return
        # Concatenated into fresh arrays (an empty table added, so even a single slice is copied): ``nbytes``
        # then depends on the rows only, not on how they arrived (a slice can count a partial bitmap byte).
        table = pa.concat_tables([*self._group, self._empty]).combine_chunks()
        self._group = []
        self._group_rows = self._group_bytes = 0
        if self._writer is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self.directory / f".{self.split}.part{len(self._parts):05d}.tmp"
            self._file = open(path, "wb")  # noqa: SIM115 - closed in _close_part
            self._writer = pq.ParquetWriter(self._file, self.schema, compression=COMPRESSION,
                                            use_dictionary=self._dictionary, column_encoding=self._column_encoding,
                                            write_statistics=False)
            self._parts.append((path, 0))
            self._part_rows = 0
        self._writer.write_table(table, row_group_size=len(table))
        self.num_rows += len(table)
        self._part_rows += len(table)
        self.num_bytes += table.nbytes
        if self._file is not None and self._file.tell() >= self.max_shard_bytes:
            self._close_part()

    def _close_part(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._file.close()  # type: ignore[union-attr]
            path, _ = self._parts[-1]
            self._parts[-1] = (path, self._part_rows)
            self._writer = self._file = None

    def close(self) -> list[tuple[Path, int]]:
        """Flush, close, and rename the shards to their final names; return ``(path, rows)`` pairs."""
        self._drain_buffer()
        self._flush()
        self._close_part()
        total = len(self._parts)
        final: list[tuple[Path, int]] = []
        for i, (path, rows) in enumerate(self._parts):
            target = self.directory / f"{self.split}-{i:05d}-of-{total:05d}.parquet"
            os.replace(path, target)
            final.append((target, rows))
        self._parts = []
        return final

    def abort(self) -> None:
        """Close any open file without renaming (the caller removes the folder)."""
        if self._writer is not None:
            try:
                self._writer.close()
            finally:
                self._file.close()  # type: ignore[union-attr]
            self._writer = self._file = None
