"""Keys seen so far in a stream (article ids, document ids, text digests) and what was first seen with each.

:class:`SeenKeys` keeps them in a private temporary SQLite database (:func:`private_database`): SQLite holds a
bounded page cache and spills the rest to a file that is deleted on close, so memory does not grow with the number
of keys.  Ingest, validate and the build's whole-export checks use it; its cost per key is in docs/benchmarks.md.
Keys are compared exactly, and where a key was first seen (a row number, and a task id or a ``file:line``) comes
back as it was given.

:class:`KeyValues` is the same store taken a batch at a time (a segment of the input, the rows of a file): a
batch's keys are looked up in a few queries (:meth:`KeyValues.batch`), decided in order in memory, and the new
ones written at once, into a small staged table that is merged into the large one in key order (random keys
written one at a time into a B-tree larger than the page cache cost a page read and write each).

:class:`KeyValuesFile` is a table of keys written once into a named file, which other processes (the build's
forked workers) then read through :class:`KeyValuesReader`.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path

import numpy as np

from corpus_tools.errors import OutputError

_INT64 = range(-(2**63), 2**63)
LOOKUP_KEYS = 500  # keys per ``IN (...)`` query
CACHE_KIB = 8 * 1024  # the page cache of a batched store (SQLite's default is 2 MiB): bounded, memory stays flat
# Keys a batched store stages before merging them into its large table: the staged table stays in the page cache,
# and each merge reads and writes every page of the large table at most once, not once per key
STAGED_ROWS = 1 << 16
KEY_BITS = 24  # the bit set of a batched store's keys: 2 MiB
_MIX = np.uint64(0x9E3779B97F4A7C15)  # a key's second bit in a KeyBits: its hash times an odd number


def private_database(cache_kib: int | None = None) -> sqlite3.Connection:
    """A private temporary SQLite database in one transaction that is never committed: its file is made only when
    the page cache spills, unlinked as soon as it is made (so the system removes it even when the process is
    killed) and gone on close.  Its journal is off and nothing is synced to disk (durability does not matter);
    with ``cache_kib`` (a batched store) the page cache holds that many KiB of 16 KiB pages."""
    return _unjournaled(sqlite3.connect("", isolation_level=None, check_same_thread=False),  # "": a private file
                        cache_kib)


def _unjournaled(db: sqlite3.Connection, cache_kib: int | None) -> sqlite3.Connection:
    """``db`` with no journal and no syncing (see :func:`private_database`) and, with ``cache_kib``, 16 KiB pages
    and that page cache."""
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    if cache_kib is not None:
        db.execute("PRAGMA page_size=16384")  # a batched store's B-trees: fewer levels, fewer pages read per key
        db.execute(f"PRAGMA cache_size=-{cache_kib}")
    return db


@contextmanager
def store_failures(what: str) -> Iterator[None]:
    """Turn a failure of the private temporary databases into :class:`OutputError` (``what``: the work that
    needed them, as in "the build").  Their pages spill to a file in the temporary folder; a full disk there, say,
    is a failure to run, not a traceback."""
    try:
        yield
    except sqlite3.Error as exc:
        raise OutputError(f"{what} could not keep its working data on disk ({exc}); the temporary folder"
                          f" {tempfile.gettempdir()} holds it (set TMPDIR to a folder with free space)") from exc


Key = str | bytes
Value = tuple[object, object]


class KeyValues:
    """Two values per key (a str or bytes; str and bytes keys never equal), on disk; taken a batch at a time.

    ``tagged``: each key stored also keeps the ``tag`` it was stored with, and :meth:`forget` removes the keys
    stored with a tag (a group of batches whose input turned out unreadable part way, as if never given).

    New keys go to a small staged table, merged into the large one in key order every :data:`STAGED_ROWS` keys;
    a fixed bit set of the keys stored (:class:`KeyBits`) spares most lookups of the large table for keys it never
    had.  ``cache_kib``: its page cache (:func:`private_database`)."""

    def __init__(self, *, tagged: bool = False, cache_kib: int = CACHE_KIB) -> None:
        self._db = private_database(cache_kib)
        self._tagged = tagged
        tag = ", tag" if tagged else ""
        self._db.execute(f"CREATE TABLE kv (key PRIMARY KEY NOT NULL, a, b{tag}) WITHOUT ROWID")
        # replace: the staged value replaces the large table's (else the large table's is kept)
        self._db.execute(f"CREATE TABLE staged (key PRIMARY KEY NOT NULL, a, b{tag}, replace) WITHOUT ROWID")
        self._db.execute("BEGIN")
        self._columns = f"key, a, b{tag}"
        self._bits = KeyBits(KEY_BITS)
        self._staged = 0  # rows put into the staged table since it was last merged (at most its size)

    def get_many(self, keys: Iterable[Key]) -> dict[Key, Value]:
        """The values of those ``keys`` that are stored."""
        wanted = list(dict.fromkeys(keys))
        found: dict[Key, Value] = {}
        replaced: set[Key] = set()
        for key, a, b, replace in select_in(self._db, "SELECT key, a, b, replace FROM staged WHERE key IN", wanted):
            found[key] = (a, b)
            if replace:
                replaced.add(key)
        maybe = self._bits.maybe(key_hashes(wanted)).tolist() if wanted else []
        in_kv = [key for key, flag in zip(wanted, maybe, strict=True) if flag]
        for key, a, b in select_in(self._db, "SELECT key, a, b FROM kv WHERE key IN", in_kv):
            if key not in replaced:
                found[key] = (a, b)
        return found

    def put_many(self, items: Iterable[tuple[Key, Value]], *, replace: bool, tag: int | None = None) -> None:
        """Store values; a stored key keeps its value unless ``replace`` (``tag``: see the class)."""
        verb = "REPLACE" if replace else "IGNORE"
        rows = [(k, a, b, tag, replace) if self._tagged else (k, a, b, replace) for k, (a, b) in items]
        if not rows:
            return
        self._bits.add(key_hashes([row[0] for row in rows]))
        marks = ", ".join("?" * len(rows[0]))
        self._db.executemany(f"INSERT OR {verb} INTO staged VALUES ({marks})", rows)
        self._staged += len(rows)
        if self._staged >= STAGED_ROWS:
            self._merge()

    def _merge(self) -> None:
        """Move the staged keys into the large table (in key order: each of its pages is written once)."""
        columns = self._columns
        self._db.execute(f"INSERT OR REPLACE INTO kv SELECT {columns} FROM staged WHERE replace ORDER BY key")
        self._db.execute(f"INSERT OR IGNORE INTO kv SELECT {columns} FROM staged WHERE NOT replace ORDER BY key")
        self._db.execute("DELETE FROM staged")
        self._staged = 0

    def forget(self, tag: int) -> None:
        """Remove the keys stored with ``tag`` (a tagged store)."""
        # a staged value that does not replace one of the large table was never stored: it goes with that one
        self._db.execute("DELETE FROM staged WHERE NOT replace AND key IN (SELECT key FROM kv WHERE tag = ?)", (tag,))
        # a staged replacement stands for the value it replaces in the large table, now stored with its tag
        self._db.execute("DELETE FROM kv WHERE key IN (SELECT key FROM staged WHERE tag = ? AND replace)", (tag,))
        self._db.execute("DELETE FROM kv WHERE tag = ?", (tag,))
        self._db.execute("DELETE FROM staged WHERE tag = ?", (tag,))

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
        self._merge()
        for key, a, b in self._db.execute("SELECT key, a, b FROM kv ORDER BY key"):
            yield key, (a, b)

    def close(self) -> None:
        self._db.close()


class KeyBits:
    """A fixed bit set of 64-bit hashes of keys (2^``size`` bits, whatever the number of keys), two bits a key: a
    key with a clear bit was never added.  Set bits only say "maybe" (other keys may have set them), so a store
    that skips the lookups of the keys this rules out gives the same answers."""

    def __init__(self, size: int) -> None:
        self._size = np.uint64(64 - size)
        self._bits = np.zeros(1 << (size - 3), dtype=np.uint8)

    def _where(self, hashes: np.ndarray) -> np.ndarray:
        hashes = hashes.view(np.uint64)
        return np.concatenate([hashes >> self._size, (hashes * _MIX) >> self._size])

    def add(self, hashes: np.ndarray) -> None:
        """Add the keys of these hashes (uint64 or int64)."""
        where = self._where(hashes)
        np.bitwise_or.at(self._bits, where >> np.uint64(3), np.left_shift(1, where & np.uint64(7)).astype(np.uint8))

    def maybe(self, hashes: np.ndarray) -> np.ndarray:
        """For each hash: False when its key was never added."""
        where = self._where(hashes)
        flags = ((self._bits[where >> np.uint64(3)] >> (where & np.uint64(7)).astype(np.uint8)) & 1).astype(bool)
        return flags[:len(hashes)] & flags[len(hashes):]


def key_hashes(keys: Sequence[Key]) -> np.ndarray:
    """A 64-bit hash of each key for :class:`KeyBits` (Python's: the same within a process, all a bit set lives)."""
    return np.fromiter(map(hash, keys), dtype=np.int64, count=len(keys))


def select_in(db: sqlite3.Connection, query: str, keys: Sequence[object]) -> Iterator[tuple]:
    """The rows of ``query`` (ending in ``IN``) for ``keys``, :data:`LOOKUP_KEYS` keys a statement (SQLite bounds
    the parameters of one)."""
    for at in range(0, len(keys), LOOKUP_KEYS):
        chunk = keys[at:at + LOOKUP_KEYS]
        yield from db.execute(f"{query} ({','.join('?' * len(chunk))})", chunk)


def _get_many(db: sqlite3.Connection, keys: Iterable[Key]) -> dict[Key, Value]:
    """The values of those ``keys`` that table ``kv`` of ``db`` holds, :data:`LOOKUP_KEYS` keys a query."""
    return {key: (a, b) for key, a, b in select_in(db, "SELECT key, a, b FROM kv WHERE key IN",
                                                    list(dict.fromkeys(keys)))}


class KeyValuesFile:
    """Two values per key in table ``kv`` of the new SQLite file ``path``, written once by this process (no
    staging: the keys are written as they come); once :meth:`finish`-ed, any process reads it through a
    :class:`KeyValuesReader` (a connection cannot be used in a process forked after it was made, so forked
    workers cannot share this one)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        # no journal: written once, a failed write leaves a file no one reads
        self._db = _unjournaled(sqlite3.connect(self.path, isolation_level=None, check_same_thread=False), CACHE_KIB)
        self._db.execute("CREATE TABLE kv (key PRIMARY KEY NOT NULL, a, b) WITHOUT ROWID")
        self._db.execute("BEGIN")

    def put_many(self, items: Iterable[tuple[Key, Value]], *, replace: bool) -> int:
        """Store values; a stored key keeps its value unless ``replace``.  Returns the number of rows written
        (without ``replace``: the keys that were new)."""
        verb = "REPLACE" if replace else "IGNORE"
        return self._db.executemany(f"INSERT OR {verb} INTO kv VALUES (?, ?, ?)",
                                    ((k, a, b) for k, (a, b) in items)).rowcount

    def get_many(self, keys: Iterable[Key]) -> dict[Key, Value]:
        """The values of those ``keys`` that are stored."""
        return _get_many(self._db, keys)

    def finish(self) -> KeyValuesReader:
        """Commit and close the table; its reader."""
        self._db.execute("COMMIT")
        self._db.close()
        return KeyValuesReader(self.path)

    def close(self) -> None:
        self._db.close()


class KeyValuesReader:
    """A finished :class:`KeyValuesFile`, read-only.  Each read opens a connection of its own and closes it when
    done, so one instance serves this process and the processes forked from it alike (a connection does not
    survive a fork)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def _connect(self) -> sqlite3.Connection:
        # immutable: nothing writes the file any more, so SQLite takes no locks and checks for no change
        db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro&immutable=1", uri=True,
                             isolation_level=None, check_same_thread=False)
        db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        return db

    def get_many(self, keys: Iterable[Key]) -> dict[Key, Value]:
        """The values of those ``keys`` that are stored (one query per :data:`LOOKUP_KEYS` keys)."""
        with closing(self._connect()) as db:
            return _get_many(db, keys)

    def items(self) -> Iterator[tuple[Key, Value]]:
        """Every key and its values, by key (as :meth:`KeyValues.items`)."""
        with closing(self._connect()) as db:
            for key, a, b in db.execute("SELECT key, a, b FROM kv ORDER BY key"):
                yield key, (a, b)


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
