"""Keys seen so far in a stream (article ids, document ids, text digests) and what was first seen with each.

:class:`SeenKeys` keeps them in a private temporary SQLite database (:func:`private_database`): SQLite holds a
bounded page cache and spills the rest to a file that is deleted on close, so memory does not grow with the number
of keys.  Ingest, validate and the build's whole-export checks use it; its cost per key is in docs/benchmarks.md.
Keys are compared exactly, and where a key was first seen (a row number, and a task id or a ``file:line``) comes
back as it was given.

:class:`KeyValues` is the same store taken a batch at a time (a segment of the input, the rows of a file): a
batch's keys are looked up in a few queries (:meth:`KeyValues.batch`), decided in order in memory, and the new
ones written at once.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence

_INT64 = range(-(2**63), 2**63)
LOOKUP_KEYS = 500  # keys per ``IN (...)`` query
CACHE_KIB = 8 * 1024  # the page cache of a batched store (SQLite's default is 2 MiB): bounded, memory stays flat


def private_database(cache_kib: int | None = None) -> sqlite3.Connection:
    """A private temporary SQLite database in one transaction that is never committed: its file is made only when
    the page cache spills, unlinked as soon as it is made (so the system removes it even when the process is
    killed) and gone on close.  Its journal is off and nothing is synced to disk (durability does not matter);
    with ``cache_kib`` (a batched store) the page cache holds that many KiB of 16 KiB pages."""
    db = sqlite3.connect("", isolation_level=None, check_same_thread=False)  # "": a private temporary file
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    if cache_kib is not None:
        db.execute("PRAGMA page_size=16384")  # a batched store's B-trees: fewer levels, fewer pages read per key
        db.execute(f"PRAGMA cache_size=-{cache_kib}")
    return db


Key = str | bytes
Value = tuple[object, object]


class KeyValues:
    """Two values per key (a str or bytes; str and bytes keys never equal), on disk; taken a batch at a time.

    ``tagged``: each key stored also keeps the ``tag`` it was stored with, and :meth:`forget` removes the keys
    stored with a tag (a group of batches whose input turned out unreadable part way, as if never given).
    ``cache_kib``: its page cache (:func:`private_database`)."""

    def __init__(self, *, tagged: bool = False, cache_kib: int = CACHE_KIB) -> None:
        self._db = private_database(cache_kib)
        self._tagged = tagged
        self._db.execute(f"CREATE TABLE kv (key PRIMARY KEY NOT NULL, a, b{', tag' if tagged else ''}) WITHOUT ROWID")
        self._db.execute("BEGIN")

    def get_many(self, keys: Iterable[Key]) -> dict[Key, Value]:
        """The values of those ``keys`` that are stored."""
        wanted = list(dict.fromkeys(keys))
        found: dict[Key, Value] = {}
        for at in range(0, len(wanted), LOOKUP_KEYS):
            chunk = wanted[at:at + LOOKUP_KEYS]
            query = f"SELECT key, a, b FROM kv WHERE key IN ({','.join('?' * len(chunk))})"
            for key, a, b in self._db.execute(query, chunk):
                found[key] = (a, b)
        return found

    def put_many(self, items: Iterable[tuple[Key, Value]], *, replace: bool, tag: int | None = None) -> None:
        """Store values; a stored key keeps its value unless ``replace`` (``tag``: see the class)."""
        verb = "REPLACE" if replace else "IGNORE"
        if self._tagged:
            self._db.executemany(f"INSERT OR {verb} INTO kv VALUES (?, ?, ?, ?)",
                                 ((k, a, b, tag) for k, (a, b) in items))
        else:
            self._db.executemany(f"INSERT OR {verb} INTO kv VALUES (?, ?, ?)", ((k, a, b) for k, (a, b) in items))

    def forget(self, tag: int) -> None:
        """Remove the keys stored with ``tag`` (a tagged store)."""
        self._db.execute("DELETE FROM kv WHERE tag = ?", (tag,))

    def batch(self, keys: Iterable[Key], *, tag: int | None = None) -> FirstSeen:
        """The next batch of keys, looked up at once; decide them in order with :meth:`FirstSeen.first`, then
        :meth:`FirstSeen.commit` (which stores the new ones with ``tag``)."""
        return FirstSeen(self, self.get_many(keys), tag)

    def first_many(self, keys: Sequence[Key], values: Sequence[Value], *, tag: int | None = None
                   ) -> list[Value | None]:
        """For each key in order: the value stored with its first occurrence (in an earlier batch or earlier in
        this one), or None when it is new (its value is then stored, with ``tag``)."""
        batch = self.batch(keys, tag=tag)
        out = [batch.first(key, value) for key, value in zip(keys, values, strict=True)]
        batch.commit()
        return out

    def items(self) -> Iterator[tuple[Key, Value]]:
        """Every key and its values, by key (bytes after str; str by code point, as Python sorts them)."""
        for key, a, b in self._db.execute("SELECT key, a, b FROM kv ORDER BY key"):
            yield key, (a, b)

    def close(self) -> None:
        self._db.close()


class FirstSeen:
    """A batch of :class:`KeyValues`: the stored values of its keys, and the keys it adds."""

    def __init__(self, table: KeyValues, earlier: dict[Key, Value], tag: int | None = None) -> None:
        self.table = table
        self.earlier = earlier
        self.tag = tag
        self.new: dict[Key, Value] = {}

    def first(self, key: Key, value: Value) -> Value | None:
        """The value first seen with ``key``; None when ``key`` is new (``value`` is then its value)."""
        found = self.earlier.get(key)
        if found is None:
            found = self.new.get(key)
            if found is None:
                self.new[key] = value
        return found

    def commit(self) -> None:
        """Store the keys this batch added."""
        self.table.put_many(self.new.items(), replace=False, tag=self.tag)
        self.earlier, self.new = {}, {}


class SeenKeys:
    """Remembers keys row by row; :meth:`first` says where a key was first seen."""

    def __init__(self) -> None:
        self._db = private_database()
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
