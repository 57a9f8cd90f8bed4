"""Keys seen so far in a stream (article ids, document ids) and where each was first seen.

:class:`SeenKeys` keeps them in a private temporary SQLite database: SQLite holds a bounded page cache and
spills the rest to a file that is deleted on close, so memory does not grow with the number of keys.  Ingest,
validate and the build's whole-export checks use it; its cost per key is in docs/benchmarks.md.  Keys are
compared exactly, and where a key was first seen (a row number, and a task id or a ``file:line``) comes back as
it was given.
"""

from __future__ import annotations

import json
import sqlite3

_INT64 = range(-(2**63), 2**63)


class SeenKeys:
    """Remembers keys row by row; :meth:`first` says where a key was first seen."""

    def __init__(self) -> None:
        self._db = sqlite3.connect("", isolation_level=None, check_same_thread=False)  # "": a private temporary file
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        # no type on key: 5 and "5" stay different keys, as they are in Python
        self._db.execute("CREATE TABLE seen (key PRIMARY KEY, row INTEGER, id, id_json TEXT) WITHOUT ROWID")
        self._db.execute("BEGIN")
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def first(self, key: str, row: int, row_id: object = None) -> tuple[int, object] | None:
        """``(first_row, first_id)`` if ``key`` was seen before; else remember it and return None."""
        if row_id is None or type(row_id) is str or (type(row_id) is int and row_id in _INT64):
            values = (key, row, row_id, None)  # SQLite gives these back unchanged; other values go as JSON
        else:
            values = (key, row, None, json.dumps(row_id))
        if self._db.execute("INSERT OR IGNORE INTO seen VALUES (?, ?, ?, ?)", values).rowcount:
            self._count += 1
            return None
        first_row, first_id, first_json = self._db.execute(
            "SELECT row, id, id_json FROM seen WHERE key = ?", (key,)).fetchone()
        return first_row, first_id if first_json is None else json.loads(first_json)

    def close(self) -> None:
        self._db.close()
