"""Row groups are cut by the rows alone: the same files whether rows arrive one by one or as tables."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpus_tools.build import shards
from corpus_tools.build.shards import ShardWriter

SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string()), ("places", pa.list_(pa.string()))])
ROWS = [{"id": f"d{i}", "text": "ب" * (40 if i % 4 == 0 else 5), "places": ["بيروت"] * (i % 3)} for i in range(23)]


def _expected_groups(limit_rows: int, limit_bytes: int) -> list[int]:
    """Written independently of the writer: a group closes after limit_rows rows or limit_bytes of string data."""
    groups, rows, size = [], 0, 0
    for row in ROWS:
        rows += 1
        size += len(row["id"].encode()) + len(row["text"].encode()) + sum(len(p.encode()) for p in row["places"])
        if rows == limit_rows or size >= limit_bytes:
            groups.append(rows)
            rows, size = 0, 0
    return groups + ([rows] if rows else [])


def _write(folder: Path, arrival: str) -> list[Path]:
    writer = ShardWriter(folder, "train", SCHEMA, row_group_rows=5)
    if arrival == "rows":
        for row in ROWS:
            writer.write(row)
    else:
        cut = 1 if arrival == "tables of 1 and 22" else 11
        for part in (ROWS[:cut], ROWS[cut:]):
            writer.write_table(pa.Table.from_pylist(part, schema=SCHEMA))
    return [path for path, _ in writer.close()]


def test_groups_close_on_rows_or_string_bytes_whatever_the_arrival(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shards, "MAX_GROUP_BYTES", 120)
    expected = _expected_groups(5, 120)
    assert any(n < 5 for n in expected[:-1])  # the byte cap does close some groups early
    digests = set()
    for arrival in ("rows", "tables of 1 and 22", "tables of 11 and 12"):
        files = _write(tmp_path / arrival.replace(" ", "-"), arrival)
        meta = pq.ParquetFile(files[0]).metadata
        assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == expected
        assert pq.read_table(files[0]).to_pylist() == ROWS
        digests.add(hashlib.sha256(files[0].read_bytes()).hexdigest())
    assert len(digests) == 1  # byte-identical files
