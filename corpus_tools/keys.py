"""Repeated keys across a stream (article ids, document ids) in a few bytes per row.

:class:`SeenKeys` keeps a 64-bit hash, the row index and the row id in typed arrays plus an
open-addressing table of 4-byte slots, with no Python object per row (a ``set`` keeps every key
string alive).  Keys are compared by Python's string hash, so a false repeat needs a 64-bit
collision.  Sizes and timings are in docs/benchmarks.md.
"""

from __future__ import annotations

from array import array

_EMPTY = 0


class SeenKeys:
    """Remembers keys row by row; :meth:`first` says where a key was first seen."""

    def __init__(self) -> None:
        self._hashes = array("q")
        self._rows = array("i")
        self._ids = array("q")
        self._other_ids: dict[int, object] = {}  # ids that are not 64-bit ints, by entry
        self._slots = array("i", [_EMPTY]) * 1024  # entry + 1, or empty

    def __len__(self) -> int:
        return len(self._hashes)

    def first(self, key: str, row: int, row_id: object = None) -> tuple[int, object] | None:
        """``(first_row, first_id)`` if ``key`` was seen before; else remember it and return None."""
        value = hash(key)
        slots, hashes = self._slots, self._hashes
        mask = len(slots) - 1
        i = value & mask
        while True:
            entry = slots[i]
            if entry == _EMPTY:
                break
            if hashes[entry - 1] == value:
                entry -= 1
                return self._rows[entry], self._other_ids.get(entry, self._ids[entry])
            i = (i + 1) & mask
        hashes.append(value)
        self._rows.append(row)
        if type(row_id) is int and -(2**63) <= row_id < 2**63:
            self._ids.append(row_id)
        else:
            self._ids.append(0)
            self._other_ids[len(hashes) - 1] = row_id
        slots[i] = len(hashes)
        if 2 * len(hashes) > len(slots):
            self._grow()
        return None

    def _grow(self) -> None:
        slots = array("i", [_EMPTY]) * (2 * len(self._slots))
        mask = len(slots) - 1
        for entry, value in enumerate(self._hashes, 1):
            i = value & mask
            while slots[i] != _EMPTY:
                i = (i + 1) & mask
            slots[i] = entry
        self._slots = slots
