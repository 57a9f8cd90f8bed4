"""Arrow arrays to numpy without importing pandas.

pyarrow imports pandas (a quarter of a second) the first time it converts a Python value or calls
``Array.to_numpy``, only to recognise pandas objects.  The release checks and the changelog diff
run in the caller's process, so they read integer columns from the arrays' buffers instead, and
look ids up within their row with integer keys rather than joined strings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


def int_values(array: pa.Array) -> tuple[np.ndarray, np.ndarray | None]:
    """The values of an integer array as int64 and its validity mask (None when it has no nulls; the
    values at null positions are unspecified)."""
    values, valid = int_view(array)
    return values.astype(np.int64), valid


def int_view(array: pa.Array) -> tuple[np.ndarray, np.ndarray | None]:
    """The values of an integer array in its own type, a view of its buffer (no copy: for checks over many values
    that need no arithmetic), and its validity mask as :func:`int_values` gives it."""
    kind = array.type
    if not pa.types.is_integer(kind):
        raise TypeError(f"not an integer array: {kind}")
    n = len(array)
    validity, data = array.buffers()[:2]
    if n == 0 or data is None:
        return np.zeros(0, np.int64), None
    width = kind.bit_width // 8
    dtype = np.dtype(f"{'i' if pa.types.is_signed_integer(kind) else 'u'}{width}")
    values = np.frombuffer(data, dtype=dtype, count=n, offset=array.offset * width)
    if not array.null_count:
        return values, None
    bits = np.unpackbits(np.frombuffer(validity, np.uint8), bitorder="little")
    return values, bits[array.offset:array.offset + n].astype(bool)


def ints(array: pa.Array, null: int = -1) -> np.ndarray:
    """The values of an integer array as int64, ``null`` where it has nulls."""
    values, valid = int_values(array)
    if valid is not None:
        values[~valid] = null
    return values


def struct_fields(structs: pa.Array) -> dict[str, pa.Array]:
    """The child arrays of a struct array, by field name."""
    return {f.name: a for f, a in zip(structs.type, structs.flatten(), strict=True)}


def parents(lists: pa.Array) -> np.ndarray:
    """The row of every item of a list array (int64)."""
    return ints(pc.list_parent_indices(lists))


def find_in_rows(rows: np.ndarray, ids: pa.Array, query_rows: np.ndarray, query_ids: pa.Array) -> np.ndarray:
    """For every ``(query_rows[k], query_ids[k])``, the position of the last ``(rows[j], ids[j])`` equal to it,
    or -1 (a null id matches nothing)."""
    found = np.full(len(query_rows), -1, dtype=np.int64)
    if len(rows) == 0 or len(query_rows) == 0:
        return found
    vocabulary = pc.unique(ids.drop_null())
    codes = ints(pc.index_in(ids, value_set=vocabulary))
    query_codes = ints(pc.index_in(query_ids, value_set=vocabulary))
    size = len(vocabulary) + 1
    keys = rows * size + codes
    query = query_rows * size + query_codes
    order = np.argsort(keys, kind="stable")  # equal keys keep their order: the last one is the last occurrence
    at = np.searchsorted(keys[order], query, side="right") - 1
    hit = (at >= 0) & (query_codes >= 0)
    hit[hit] &= keys[order[at[hit]]] == query[hit]
    found[hit] = order[at[hit]]
    return found


def string_buffers(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (int64, from 0) and the UTF-8 bytes of a string array without nulls."""
    raw = np.frombuffer(array.buffers()[1], dtype=np.int32, count=len(array) + 1, offset=array.offset * 4)
    buffer = array.buffers()[2]
    data = np.frombuffer(buffer, dtype=np.uint8) if buffer is not None else np.zeros(0, np.uint8)
    return raw.astype(np.int64) - raw[0], data[raw[0]:raw[-1]]


def sha256_each(strings: pa.Array) -> list[bytes]:
    """The sha256 digest of each string's UTF-8 (a null as the empty string), hashed from the array's buffer."""
    if strings.null_count:
        return [hashlib.sha256((t or "").encode("utf-8")).digest() for t in strings.to_pylist()]
    offsets, data = string_buffers(strings)
    view = memoryview(data)
    bounds = offsets.tolist()
    return [hashlib.sha256(view[a:b]).digest() for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def utf8_text(data: np.ndarray) -> str | None:
    """UTF-8 bytes decoded (from the buffer, without a copy), None when they are not valid UTF-8: Parquet readers
    do not check it."""
    try:
        return str(memoryview(data), "utf-8")
    except UnicodeError:
        return None


def code_points(data: np.ndarray) -> np.ndarray | None:
    """The code points of UTF-8 bytes (None when they are not valid UTF-8: Parquet readers do not check it).

    Decoding and encoding again as UTF-32 is about twice as fast as locating each code point's first byte
    with numpy (measured on the bench release's documents)."""
    text = utf8_text(data)
    return None if text is None else np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def gather_pieces(values: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                  which: np.ndarray | None = None) -> np.ndarray:
    """The pieces ``values[starts[j]:ends[j]]`` for each ``j`` of ``which`` (default: every piece in order),
    concatenated.  Arrow's ``take`` copies a piece at a time (numpy would need one index per value); the pieces
    must follow each other in ``values`` (``starts[j] <= ends[j] <= starts[j + 1]``)."""
    n = len(starts)
    if n == 0:
        return values[:0]
    bounds = np.empty(2 * n, dtype=np.int64)  # the pieces and the gaps between them, one binary array
    bounds[0::2], bounds[1::2] = starts, ends
    bounds *= values.itemsize
    pieces = pa.LargeBinaryArray.from_buffers(pa.large_binary(), 2 * n - 1,
                                              [None, pa.py_buffer(bounds), pa.py_buffer(values)])
    picked = np.arange(0, 2 * n, 2, dtype=np.int64) if which is None else 2 * which
    taken = pieces.take(int64_array(picked))
    size = int(np.frombuffer(taken.buffers()[1], dtype=np.int64, count=len(taken) + 1)[-1])
    return np.frombuffer(taken.buffers()[2], dtype=values.dtype, count=size // values.itemsize) if size else values[:0]


def int64_array(values: np.ndarray) -> pa.Array:
    """An int64 Arrow array over a numpy array (pa.array would import pandas)."""
    values = np.ascontiguousarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(values)])


def first_of(lengths: np.ndarray) -> np.ndarray:
    """Where each of consecutive pieces of these lengths starts (0, then the running sums)."""
    return np.concatenate([np.zeros(1, np.int64), np.cumsum(lengths, dtype=np.int64)])[:-1]


def row_group_batches(reader: pq.ParquetFile, groups: Iterable[int] | None, *, batch_size: int,
                      columns: list[str]) -> Iterator[tuple[int, pa.RecordBatch]]:
    """``(row group, batch)`` of a Parquet file's row groups ``groups`` (None: all), read one row group at a time
    on the calling thread: a reader given many row groups (or a whole file) reads far ahead of the batches taken,
    and Arrow's thread pool keeps its threads' heaps (docs/benchmarks.md, check-release and diff at 1M tasks)."""
    for group in range(reader.metadata.num_row_groups) if groups is None else groups:
        for batch in reader.iter_batches(batch_size=batch_size, columns=columns, row_groups=[group],
                                         use_threads=False):
            yield group, batch
