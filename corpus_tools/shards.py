"""Deterministic, size-capped Parquet shards for one config split.

Rows are converted to Arrow record batches in small chunks and written as one row group per
``row_group_rows`` rows (streaming readers get batches of that size; memory stays flat), with zstd
compression and the explicit schema ``features.arrow_schema`` (which carries the ``huggingface``
metadata).  A shard is closed once
its file reaches ``max_shard_bytes``.  Shards are written under temporary names and renamed to
``<split>-NNNNN-of-NNNNN.parquet`` by :meth:`ShardWriter.close`, once their number is known.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

ROW_GROUP_ROWS = 1_000
MAX_SHARD_BYTES = 256 * 1024 * 1024
COMPRESSION = "zstd"
# Rows are turned into Arrow record batches this many at a time: a token row is about 10x smaller in
# Arrow than as Python objects, which keeps a 1,000-row group of long articles at tens of MB.
CHUNK_ROWS = 64
# A row group is also closed once it holds this much Arrow data, so long documents keep memory flat.
MAX_GROUP_BYTES = 32 * 1024 * 1024
BatchMaker = Callable[[Sequence[Any], pa.Schema], pa.RecordBatch]


def pylist_batch(rows: Sequence[dict], schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist(rows, schema=schema)


class ShardWriter:
    """Writes the rows of one config split into ``directory``.

    Rows are dicts by default; ``make_batch`` turns a chunk of rows of another form into a record
    batch of ``schema`` (see :mod:`corpus_tools.token_batches`).
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
    ) -> None:
        if row_group_rows < 1 or max_shard_bytes < 1:
            raise ValueError("row_group_rows and max_shard_bytes must be positive")
        self.directory = directory
        self.split = split
        self.schema = schema
        self.row_group_rows = row_group_rows
        self.max_shard_bytes = max_shard_bytes
        self._make_batch = make_batch
        self.num_rows = 0
        self.num_bytes = 0  # Arrow (in-memory) size, reported as num_bytes in the card
        self._buffer: list[Any] = []
        self._batches: list[pa.RecordBatch] = []
        self._batched_rows = 0
        self._batched_bytes = 0
        self._parts: list[tuple[Path, int]] = []  # (temp path, rows)
        self._file: BinaryIO | None = None
        self._writer: pq.ParquetWriter | None = None
        self._part_rows = 0

    def write(self, row: Any) -> None:
        self._buffer.append(row)
        if len(self._buffer) >= CHUNK_ROWS or self._batched_rows + len(self._buffer) >= self.row_group_rows:
            self._to_batch()
            if self._batched_rows >= self.row_group_rows or self._batched_bytes >= MAX_GROUP_BYTES:
                self._flush()

    def _to_batch(self) -> None:
        if self._buffer:
            batch = self._make_batch(self._buffer, self.schema)
            self._batches.append(batch)
            self._batched_rows += len(self._buffer)
            self._batched_bytes += batch.nbytes
            self._buffer = []

    def _flush(self) -> None:
        self._to_batch()
        if not self._batches:
            return
        table = pa.Table.from_batches(self._batches, schema=self.schema)
        self._batches = []
        self._batched_rows = self._batched_bytes = 0
        if self._writer is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self.directory / f".{self.split}.part{len(self._parts):05d}.tmp"
            self._file = open(path, "wb")  # noqa: SIM115 - closed in _close_part
            self._writer = pq.ParquetWriter(self._file, self.schema, compression=COMPRESSION)
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
