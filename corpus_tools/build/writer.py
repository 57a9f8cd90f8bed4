"""The release's rows written into size-capped shards in input order, with the checks that need every document.

:class:`ReleaseWriter` takes the tables that :class:`~corpus_tools.build.tables.SegmentBuilder` made of each
segment of the input, in input order: it checks document ids and the leakage audit (repeated texts), keeps the
statistics for the card, and writes the ``documents``, ``tokens``, ``relations`` and ``annotations`` configs
into their :class:`~corpus_tools.build.shards.ShardWriter`.  Problems go to its report; nothing is printed.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from corpus_tools.build.shards import ShardWriter
from corpus_tools.errors import OutputError
from corpus_tools.features import base_config, release_features
from corpus_tools.keys import CACHE_KIB, FirstSeen, KeyBits, KeyValues, private_database, select_in
from corpus_tools.ontology import Ontology
from corpus_tools.release.card import SplitLayout
from corpus_tools.release.splits import SplitPlan
from corpus_tools.release.stats import ReleaseStats
from corpus_tools.report import Report, define_code, make_problem

STAGE = "build"
_DELTA = "DELTA_BINARY_PACKED"
# Parquet encodings per config (docs/benchmarks.md): token strings and tags repeat (dictionary), offsets
# grow along a row (delta: smaller tokens files, written faster), the rest plain.
PARQUET_ENCODINGS: dict[str, dict] = {
    "tokens": {"dictionary": ["tokens.list.element", "ner_tags.list.element"],
               "column_encoding": {"token_start.list.element": _DELTA, "token_end.list.element": _DELTA}},
    **{config: {"dictionary": False, "column_encoding": {"entities.list.element.start": _DELTA,
                                                          "entities.list.element.end": _DELTA}}
       for config in ("documents", "annotations")},
}
LABELS_CHANGED = define_code(
    "build-labels-changed", "warning",
    "Entity or relation labels were removed or reordered since the --previous release (their ClassLabel ids"
    " changed) while the major version stayed the same.", stage=STAGE,
)
TOKENS_CHANGED = define_code(
    "build-tokens-changed", "warning",
    "The tokenizer of the tokens config changed since the --previous release (a MAJOR change: token boundaries"
    " differ) while the major version stayed the same.", stage=STAGE,
)
DUPLICATE_ID = define_code(
    "build-duplicate-id", "error", "Two tasks carry the same document id; remove or re-key one of them.",
    stage=STAGE,
)
DUPLICATE_TEXT_ACROSS_SPLITS = define_code(
    "build-duplicate-text-across-splits",
    "error",
    "Two documents with exactly the same text landed in different splits (test leakage); remove one of them"
    " or assign both to one split in splits.json.",
    stage=STAGE,
)
DUPLICATE_TEXT = define_code(
    "build-duplicate-text",
    "warning",
    "Two documents of the same split have exactly the same text.",
    stage=STAGE,
)
NEAR_DUPLICATE_ACROSS_SPLITS = define_code(
    "build-near-duplicate-across-splits",
    "warning",
    "Two documents in different splits have nearly the same text (estimated Jaccard similarity of their word"
    " 3-grams at least 0.8: a corrected or re-issued article, say); if one is a version of the other, keep one of"
    " them or assign both to one split in splits.json.",
    stage=STAGE,
)
UNKNOWN_LABEL = define_code(
    "build-unknown-label",
    "error",
    "A span or relation label is not in the ontology (validate the export with the same ontology).",
    stage=STAGE,
)
DANGLING_RELATION = define_code(
    "build-dangling-relation",
    "error",
    "A relation's head or tail is not a span of the same annotation.",
    stage=STAGE,
)
LOW_AGREEMENT = define_code(
    "build-low-agreement",
    "warning",
    "The pairwise exact-match span F1 between annotators of a label is below --min-agreement; review the"
    " guidelines for that label or adjudicate its tasks (corpus-tools agree lists the tasks of lowest agreement).",
    stage=STAGE,
)
SPLIT_EMPTY = define_code(
    "build-split-empty",
    "warning",
    "A split with a ratio above 0 got no document (too few documents for the ratios), so the release has no such"
    " split; add documents, or give a first release other --ratios (NAME=0 leaves a split out on purpose).",
    stage=STAGE,
)
NO_DOCUMENTS = define_code(
    "build-no-documents",
    "error",
    "No task has a gold annotation, so the release would be empty.",
    stage=STAGE,
)
# The near-duplicate audit (docs/releases.md, "Leakage audit"): MinHash signatures of each text's word 3-grams,
# compared through LSH bands in the main process.  64 permutations keep 256 bytes a document (uint32 values).
# The signature is datasketch's MinHash (scheme affine32, seed 1) and the bands are MinHashLSH's choice for the
# threshold (tests/test_build_near_duplicates.py checks both against datasketch), computed here with numpy:
# importing datasketch (and scipy with it) cost half a second and 60 MB in every build process.
NEAR_DUPLICATE_THRESHOLD = 0.8  # estimated Jaccard similarity of the word 3-gram sets
NEAR_DUPLICATE_PERMUTATIONS = 64
NEAR_DUPLICATE_SEED = 1  # fixed: signatures are the same in every process and every run
NEAR_DUPLICATE_BANDS, NEAR_DUPLICATE_ROWS = 5, 11  # MinHashLSH(threshold=0.8, num_perm=64).b, .r
_random = np.random.RandomState(NEAR_DUPLICATE_SEED)  # datasketch's draws for affine32: odd a, then b
_PERMUTE_A = (_random.randint(0, 1 << 31, NEAR_DUPLICATE_PERMUTATIONS, dtype=np.uint32) * np.uint32(2)
              + np.uint32(1))
_PERMUTE_B = _random.randint(0, 1 << 32, NEAR_DUPLICATE_PERMUTATIONS, dtype=np.uint32)
del _random
_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35))  # MurmurHash3's finaliser
_SHINGLE_MIX = np.uint64(0x9E3779B97F4A7C15)
_BAND_WEIGHTS = np.random.RandomState(NEAR_DUPLICATE_SEED).randint(  # odd: a band's key is a hash of its values
    0, 2**63, size=NEAR_DUPLICATE_ROWS, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
# str.split()'s whitespace in UTF-8: the bytes \t \n \v \f \r, \x1c-\x1f and space, and these code points of two or
# three bytes (their first byte is \xc2, \xe1, \xe2 or \xe3; tests/test_build_near_duplicates.py checks every code
# point)
_WIDE_WHITESPACE = np.zeros(0x4000, dtype=bool)
_WIDE_WHITESPACE[[c for c in range(0x80, 0x4000) if chr(c).isspace()]] = True
# crc32 is affine: crc32(word) = crc32(len(word) zero bytes) ^ the XOR of _CRC_BYTE[k][byte] over its bytes, k the
# number of bytes after it in the word (a byte's part of the CRC register, shifted through k zero bytes).  Longer
# words than _WORD_BYTES (rare) are hashed with zlib.crc32 itself.
_WORD_BYTES = 64
_CRC_BYTE = np.zeros((_WORD_BYTES, 256), dtype=np.uint32)
_CRC_BYTE[0] = [zlib.crc32(bytes([byte])) ^ zlib.crc32(b"\0") for byte in range(256)]
for _k in range(1, _WORD_BYTES):
    _CRC_BYTE[_k] = _CRC_BYTE[0][_CRC_BYTE[_k - 1] & 0xFF] ^ (_CRC_BYTE[_k - 1] >> np.uint32(8))
_CRC_ZEROS = np.array([zlib.crc32(bytes(length)) for length in range(_WORD_BYTES + 1)], dtype=np.uint32)
# A fixed bit set of the band keys written (8 MiB, whatever the number of documents): a key whose bit is clear was
# never written, so its lookup is skipped (most are: bands are rarely shared), sparing a read of a B-tree page.
_WRITTEN_BITS = 26
# The band keys of the last documents stay in memory (40 bytes a document, with a bit set of their own) until they
# are written into the band tables together in key order: a merge reads and writes each page of a table once,
# where a key at a time (past the page cache) read and wrote a page per key.
UNMERGED_DOCUMENTS = 1 << 16
_UNMERGED_BITS = 22
SIGNATURE_CODE_POINTS = 1 << 16  # text whose signatures are computed at once (the arrays stay in the CPU's caches)


def word_hashes(utf8: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The crc32 of each word of UTF-8 text (its words as ``str.split()`` finds them in the decoded text), and
    the offset of each word's first byte."""
    data = np.frombuffer(utf8, dtype=np.uint8)
    space = np.empty(len(data) + 2, dtype=bool)  # with a space before and after the text
    space[0] = space[-1] = True
    inner = space[1:-1]
    np.less_equal(np.subtract(data, 9, dtype=np.uint8), 13 - 9, out=inner)
    inner |= np.subtract(data, 0x1C, dtype=np.uint8) <= 0x20 - 0x1C
    lead = (data == 0xC2) | (np.subtract(data, 0xE1, dtype=np.uint8) <= 0xE3 - 0xE1)
    if lead.any():  # the code points those bytes start, for the wide whitespace
        at = np.flatnonzero(lead)
        first, second, third = (data.take(at + k, mode="clip").astype(np.intp) for k in range(3))
        two = first == 0xC2
        points = np.where(two, (first & 0x1F) << 6 | second & 0x3F,
                          (first & 0x0F) << 12 | (second & 0x3F) << 6 | third & 0x3F)
        wide = _WIDE_WHITESPACE[points]
        at, three = at[wide], ~two[wide]
        inner[at] = inner[at + 1] = True
        inner[at[three] + 2] = True
    edges = np.flatnonzero(space[1:] != space[:-1])
    starts, ends = edges[0::2], edges[1::2]
    lengths = ends - starts
    # column by column from the words' last bytes, longest words first (the words still going are a prefix)
    order = np.argsort(np.minimum(lengths, _WORD_BYTES).astype(np.uint8), kind="stable")[::-1]
    last = ends[order] - 1
    hashes = _CRC_ZEROS[np.minimum(lengths[order], _WORD_BYTES)]
    longer = len(lengths) - np.searchsorted(lengths[order[::-1]], np.arange(_WORD_BYTES), side="right")
    for k, going in enumerate(longer[longer > 0].tolist()):
        hashes[:going] ^= _CRC_BYTE[k].take(data.take(last[:going] - k))
    out = np.empty_like(hashes)
    out[order] = hashes
    for word in np.flatnonzero(lengths > _WORD_BYTES).tolist():
        out[word] = zlib.crc32(utf8[starts[word]:ends[word]])
    return out, starts


def shingle_hashes(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The 32-bit hashes of the word 3-grams of each text (its words split at any run of whitespace, each hashed
    with crc32 of its UTF-8, mixed three by three; the whole text when it has fewer than three words), and where
    each text's are: ``hashes[bounds[i]:bounds[i + 1]]`` are those of ``texts[i]`` in word order, repeats kept
    (none for a text without words)."""
    encoded = [text.encode("utf-8", "surrogatepass") for text in texts]
    words, word_starts = word_hashes(b" ".join(encoded))
    text_starts = np.cumsum([0] + [len(utf8) + 1 for utf8 in encoded])
    counts = np.diff(np.searchsorted(word_starts, text_starts))
    short = np.flatnonzero((counts > 0) & (counts < 3))
    if len(short):  # one or two words: the hashes of the missing ones are 0 (crc32 of b"")
        ends = np.cumsum(counts)[short]
        words = np.insert(words, np.repeat(ends, 3 - counts[short]), 0)
        counts[short] = 3
    hashes = words.astype(np.uint64)
    hashes = (hashes[:-2] * _SHINGLE_MIX + hashes[1:-1]) * _SHINGLE_MIX + hashes[2:]
    ends = np.cumsum(counts)[counts > 0]
    keep = np.ones(len(words), dtype=bool)  # not the 3-grams that run into the next text
    keep[ends - 1] = keep[ends - 2] = False
    shingles = np.maximum(counts - 2, 0)
    bounds = np.concatenate([[0], np.cumsum(shingles)])
    return (hashes[keep[:-2]] >> np.uint64(32)).astype(np.uint32), bounds


def text_signatures(texts: Sequence[str]) -> list[bytes | None]:
    """The MinHash signature of each text's word 3-grams (:func:`shingle_hashes`): for each of the
    :data:`NEAR_DUPLICATE_PERMUTATIONS` permutations ``h -> a * fmix32(h) + b`` (mod 2^32) the least value,
    as little-endian uint32 (what ``datasketch.MinHash(64, seed=1).update_batch(shingles).hashvalues`` holds);
    None for a text without words.  Computed for :data:`SIGNATURE_CODE_POINTS` of text at a time."""
    signatures: list[bytes | None] = []
    start = 0
    while start < len(texts):
        end, size = start + 1, len(texts[start])
        while end < len(texts) and size < SIGNATURE_CODE_POINTS:
            size += len(texts[end])
            end += 1
        shingles, bounds = shingle_hashes(texts[start:end])
        start = end
        s1, m1, s2, m2 = _FMIX32
        shingles ^= shingles >> s1
        shingles *= m1
        shingles ^= shingles >> s2
        shingles *= m2
        shingles ^= shingles >> s1
        has = bounds[:-1] < bounds[1:]
        if len(shingles):
            values = np.multiply(_PERMUTE_A[:, None], shingles)  # a row per permutation
            values += _PERMUTE_B[:, None]
            minima = iter(np.minimum.reduceat(values, bounds[:-1][has], axis=1).T.astype("<u4"))
        signatures += [next(minima).tobytes() if words else None for words in has.tolist()]
    return signatures


class NearDuplicates:
    """The signatures taken so far, in input order, with the LSH band keys of each (``(band, key)`` → the
    documents that have it): a signature shares a band with every earlier one it is probably near.

    Held out of core: each document's id, split and band keys in a private temporary SQLite database (one row,
    and a table per band of its keys and rows, written every :data:`UNMERGED_DOCUMENTS` documents: the keys of
    the later documents are held in memory till then), the signatures in an unlinked temporary file
    (:data:`NEAR_DUPLICATE_PERMUTATIONS` uint32 values per document, read back only for the candidates a band
    names).  A segment's signatures are looked up
    at once (:meth:`segment`), added in order (:meth:`add`) and written together (:meth:`flush`)."""

    def __init__(self) -> None:
        self._db = private_database(CACHE_KIB)
        bands = range(NEAR_DUPLICATE_BANDS)
        self._db.execute(f"CREATE TABLE docs (row INTEGER PRIMARY KEY, id, split, {', '.join(f'k{b}' for b in bands)})")
        for band in bands:  # each band's keys written, with the rows that have them
            self._db.execute(f"CREATE TABLE band{band} (key, row, PRIMARY KEY (key, row)) WITHOUT ROWID")
        self._db.execute("BEGIN")
        self.merged = 0  # documents whose band keys are in the band tables (the later ones': in _unmerged)
        self._unmerged = np.zeros((0, NEAR_DUPLICATE_BANDS), dtype=np.int64)  # rows merged, merged + 1, ...
        self._recent = KeyBits(_UNMERGED_BITS)  # the (band, key) pairs of the unmerged documents
        self._signatures = tempfile.TemporaryFile(buffering=0)  # unlinked: gone with the process
        self.count = 0  # documents written (rows below it are on disk)
        self._keys: dict[bytes, list[int]] = {}  # signature → its key in each band
        self._shared: set[bytes] = set()  # signatures with a (band, key) of an earlier one or another of the segment
        self._earlier: dict[tuple[int, int], list[int]] = {}  # (band, key) → rows on disk
        self._new: dict[tuple[int, int], int | list[int]] = {}  # (band, key) → rows of this segment
        self._docs: list[tuple] = []  # (row, id, split, keys...) of this segment
        self._new_signatures = bytearray()
        self._written = KeyBits(_WRITTEN_BITS)  # the (band, key) pairs written

    @staticmethod
    def _hashes(keys: np.ndarray, band: int) -> np.ndarray:
        """The hashes of band ``band``'s keys ``keys`` in :attr:`_written`."""
        return keys.view(np.uint64) ^ _BAND_WEIGHTS[band]

    def segment(self, signatures: Sequence[bytes]) -> None:
        """Look up the band keys of the signatures that :meth:`add` may take next (what was added before is
        written first)."""
        self.flush()
        unique = list(dict.fromkeys(signatures))
        if not unique:
            return
        values = np.frombuffer(b"".join(unique), dtype="<u4").reshape(len(unique), NEAR_DUPLICATE_PERMUTATIONS)
        rows = values[:, :NEAR_DUPLICATE_BANDS * NEAR_DUPLICATE_ROWS].astype(np.uint64).reshape(
            len(unique), NEAR_DUPLICATE_BANDS, NEAR_DUPLICATE_ROWS)
        keys = (rows * _BAND_WEIGHTS).sum(axis=2).view(np.int64)  # SQLite integers are signed
        shared = np.zeros(len(unique), dtype=bool)
        if len(unique) < len(signatures):  # a signature twice: it shares every band with itself
            counts: dict[bytes, int] = {}
            for signature in signatures:
                counts[signature] = counts.get(signature, 0) + 1
            shared[[k for k, signature in enumerate(unique) if counts[signature] > 1]] = True
        for band, band_keys in enumerate(keys.T):
            _, where, repeats = np.unique(band_keys, return_inverse=True, return_counts=True)
            shared |= repeats[where] > 1  # a key two signatures of the segment have
            maybe = self._written.maybe(self._hashes(band_keys, band))
            wanted = list(dict.fromkeys(band_keys[maybe].tolist()))
            for key, row in select_in(self._db, f"SELECT key, row FROM band{band} WHERE key IN", wanted):
                self._earlier.setdefault((band, key), []).append(row)
            recent = band_keys[maybe][self._recent.maybe(self._hashes(band_keys[maybe], band))]
            if len(recent):
                column = self._unmerged[:, band]
                for at in np.flatnonzero(np.isin(column, recent)).tolist():
                    self._earlier.setdefault((band, int(column[at])), []).append(self.merged + at)
        if self._earlier:
            found = {(band, key) for band, key in self._earlier}
            shared |= [any((band, key) in found for band, key in enumerate(doc_keys)) for doc_keys in keys.tolist()]
        self._keys.update(zip(unique, keys.tolist(), strict=True))
        self._shared.update(signature for signature, flag in zip(unique, shared.tolist(), strict=True) if flag)

    def add(self, doc_id: str, split: str, signature: bytes) -> list[tuple[str, str, float]]:
        """Record a document; the earlier documents (id, split, estimated similarity) whose signatures agree in at
        least :data:`NEAR_DUPLICATE_THRESHOLD` of their values, in input order."""
        if signature not in self._keys:  # not looked up with its segment: on its own
            self.segment([signature])
        row = self.count + len(self._docs)
        keys = self._keys[signature]
        self._docs.append((row, doc_id, split, *keys))
        self._new_signatures += signature
        if signature not in self._shared:  # no band in common with any document but itself: no candidate
            return []
        candidates: list[int] = []
        earlier, new = self._earlier, self._new
        for pair in enumerate(keys):
            found = earlier.get(pair)
            if found is not None:
                candidates += found
            same = new.get(pair)
            if same is None:
                new[pair] = row
            elif type(same) is int:
                candidates.append(same)
                new[pair] = [same, row]
            else:
                candidates += same
                same.append(row)
        if not candidates:
            return []
        near: list[tuple[str, str, float]] = []
        values = np.frombuffer(signature, dtype="<u4")
        for other in sorted(set(candidates)):
            stored = np.frombuffer(self._signature(other), dtype="<u4")
            similarity = float(np.count_nonzero(stored == values)) / NEAR_DUPLICATE_PERMUTATIONS
            if similarity >= NEAR_DUPLICATE_THRESHOLD:
                near.append((*self._document(other), similarity))
        return near

    def _signature(self, row: int) -> bytes:
        size = 4 * NEAR_DUPLICATE_PERMUTATIONS
        if row >= self.count:
            at = (row - self.count) * size
            return bytes(self._new_signatures[at:at + size])
        return os.pread(self._signatures.fileno(), size, row * size)

    def _document(self, row: int) -> tuple[str, str]:
        if row >= self.count:
            return self._docs[row - self.count][1:3]
        doc_id, split = self._db.execute("SELECT id, split FROM docs WHERE row = ?", (row,)).fetchone()
        return doc_id, split

    def flush(self) -> None:
        """Write what :meth:`add` took since the last flush."""
        if self._docs:
            self._db.executemany(f"INSERT INTO docs VALUES (?, ?, ?{', ?' * NEAR_DUPLICATE_BANDS})", self._docs)
            keys = np.array([doc[3:] for doc in self._docs], dtype=np.int64)
            for band in range(NEAR_DUPLICATE_BANDS):
                self._written.add(self._hashes(keys[:, band], band))
                self._recent.add(self._hashes(keys[:, band], band))
            self._unmerged = np.concatenate([self._unmerged, keys])
            if len(self._unmerged) >= UNMERGED_DOCUMENTS:
                self._merge()
            self._signatures.seek(0, os.SEEK_END)
            self._signatures.write(self._new_signatures)
            self.count += len(self._docs)
        self._keys, self._shared, self._earlier, self._new, self._docs = {}, set(), {}, {}, []
        self._new_signatures = bytearray()

    def _merge(self) -> None:
        """Write the band keys of the unmerged documents into the band tables, in key order."""
        for band in range(NEAR_DUPLICATE_BANDS):
            self._db.execute(f"INSERT INTO band{band} SELECT k{band}, row FROM docs WHERE row >= ?"
                             f" ORDER BY k{band}, row", (self.merged,))
        self.merged += len(self._unmerged)
        self._unmerged = self._unmerged[:0]
        self._recent = KeyBits(_UNMERGED_BITS)

    def close(self) -> None:
        self._db.close()
        self._signatures.close()


class ReleaseWriter:
    """Writes the rows of every segment into the config writers, in input order; checks what needs every
    document (ids, the leakage audit) and collects the statistics and the build's problems."""

    def __init__(
        self,
        root: Path,
        ontology: Ontology,
        plan: SplitPlan,
        report: Report,
        *,
        row_group_rows: int,
        max_shard_bytes: int,
        file_name: str,
        view_names: Sequence[str] = (),
        near_duplicates: bool = True,
    ) -> None:
        self.root = root
        self.features = release_features(ontology).with_views(view_names)
        self.schemas = dict(self.features.schemas)
        self.row_group_rows = row_group_rows
        self.max_shard_bytes = max_shard_bytes
        self.file = file_name
        self.near_duplicates = near_duplicates  # the near-duplicate audit (signatures come from the workers)
        self._start(plan, report)

    def _start(self, plan: SplitPlan, report: Report) -> None:
        """What the writer takes from the input: rows, problems, counts; the ids, texts and splits seen (on disk:
        what needs every document is held out of core)."""
        self.plan = plan
        self.report = report
        self.stats = ReleaseStats()
        self.writers: dict[tuple[str, str], ShardWriter] = {}
        self.seen_ids = KeyValues()  # document id → (None, None)
        self._ids: FirstSeen | None = None  # the segment being merged
        self.texts = KeyValues()  # sha256 of a text → (id, split) of its first document
        self._texts: FirstSeen | None = None  # the segment being merged
        self.near = NearDuplicates()
        self.assignments = KeyValues()  # document id → (split, None): the earlier assignments, then every new one
        self.assignments.put_many(((doc_id, (split, None)) for doc_id, split in plan.recorded()), replace=False)

    def writer(self, config: str, split: str) -> ShardWriter:
        """The shard writer of one config split (created on first use)."""
        writer = self.writers.get((config, split))
        if writer is None:
            writer = self.writers[(config, split)] = ShardWriter(
                self.root / "data" / config,
                split,
                self.schemas[config],
                row_group_rows=self.row_group_rows,
                max_shard_bytes=self.max_shard_bytes,
                **PARQUET_ENCODINGS.get(base_config(config), {"dictionary": False}),
            )
        return writer

    def close(self) -> dict[str, dict[str, SplitLayout]]:
        """Close every shard writer (their last row groups are encoded in threads: pyarrow releases the GIL)."""
        keys = [(config, split) for config in self.schemas for split in self.plan.split_names
                if (config, split) in self.writers]
        try:
            with ThreadPoolExecutor(min(len(keys), os.cpu_count() or 1) or 1) as pool:
                closed = dict(zip(keys, pool.map(lambda key: self.writers[key].close(), keys), strict=True))
        except OSError as exc:  # a full disk, say: a failure to run, not a thread's traceback
            raise OutputError(f"cannot write the Parquet files in {self.root}: {exc.strerror or exc}") from exc
        layout: dict[str, dict[str, SplitLayout]] = {}
        for config, split in keys:
            writer = self.writers[(config, split)]
            shards = closed[(config, split)]
            files = [p.relative_to(self.root).as_posix() for p, _ in shards]
            layout.setdefault(config, {})[split] = SplitLayout(
                num_examples=writer.num_rows,
                num_bytes=writer.num_bytes,
                files=files,
                file_bytes=sum(p.stat().st_size for p, _ in shards),
            )
        return layout

    def abort(self) -> None:
        for writer in self.writers.values():
            writer.abort()
        self.close_ledger()

    def close_ledger(self) -> None:
        """Close the stores of what was seen (their temporary files go with them)."""
        for store in (self.seen_ids, self.texts, self.near, self.assignments):
            store.close()

    def restart(self) -> None:
        """Drop every row, problem and count taken so far, to take the input again from its start (with the same
        split plan: its earlier assignments are recorded again)."""
        self.abort()
        shutil.rmtree(self.root / "data", ignore_errors=True)
        self._start(self.plan, Report(warnings_per_code=self.report.warnings_per_code))

    def assign(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Record the splits of documents (a document keeps the split it was first given)."""
        self.assignments.put_many(((doc_id, (split, None)) for doc_id, split in pairs), replace=False)

    def write_splits(self, path: Path) -> None:
        """``splits.json``: what :meth:`SplitPlan.to_json` writes, with the assignments streamed from disk."""
        rest = {key: value for key, value in self.plan.to_dict().items() if key != "assignments"}
        head = json.dumps({"assignments": {}, **rest}, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
        before, marker, after = head.partition('"assignments": {}')
        encode = json.encoder.encode_basestring  # what json.dumps writes for a str with ensure_ascii=False
        with open(path, "w", encoding="utf-8") as f:
            f.write(before + '"assignments": {')
            comma = ""
            for doc_id, (split, _) in self.assignments.items():
                f.write(f'{comma}\n  {encode(doc_id)}: {encode(split)}')
                comma = ","
            f.write(("\n }" if comma else "}") + after)

    def begin_segment(self, doc_ids: Sequence[str], digests: Sequence[bytes], signatures: Sequence[bytes]) -> None:
        """Look up the ids, texts (sha256) and signatures of the documents :meth:`check_key` takes next."""
        self._ids = self.seen_ids.batch(doc_ids)
        self._texts = self.texts.batch(digests)
        if self.near_duplicates:
            self.near.segment(signatures)

    def end_segment(self) -> None:
        """Write what :meth:`check_key` took since :meth:`begin_segment`."""
        for batch in (self._ids, self._texts):
            if batch is not None:
                batch.commit()
        self._ids = self._texts = None
        self.near.flush()

    def problem(self, code: str, message: str, **where: object) -> None:
        self.report.add(make_problem(code, message, file=self.file, **where))

    def check_near(self, doc_id: str, signature: bytes | None, split: str, where: dict) -> None:
        """The near-duplicate part of the leakage audit, for a document whose text is new (not an exact
        duplicate): a warning per earlier document of another split whose text is near it, a count per earlier
        document of the same split."""
        if signature is None or not self.near_duplicates:
            return
        for other_id, other_split, similarity in self.near.add(doc_id, split, signature):
            if other_split == split:
                self.stats.near_duplicate_texts += 1
                continue
            self.problem(
                NEAR_DUPLICATE_ACROSS_SPLITS,
                f"Documents {other_id!r} ({other_split}) and {doc_id!r} ({split}) have nearly the same text"
                f" (estimated Jaccard similarity {similarity:.2f} of their word 3-grams).",
                details={"documents": [other_id, doc_id], "splits": [other_split, split],
                         "similarity": similarity}, **where,
            )

    def check_key(self, doc_id: str, digest: bytes, split: str, where: dict,
                  signature: bytes | None = None) -> bool:
        """Repeated document ids and the leakage audit for a document known by its id and the sha256 of its
        UTF-8 text; False when the document must not be written."""
        alone = self._ids is None  # not looked up with a segment: on its own
        if alone:
            self.begin_segment([doc_id], [digest], [] if signature is None else [signature])
        if self._ids.first(doc_id, (None, None)) is not None:  # type: ignore[union-attr]
            self.problem(DUPLICATE_ID, f"Document id {doc_id!r} appears in more than one task.", **where)
            if alone:
                self.end_segment()
            return False
        other = self._texts.first(digest, (doc_id, split))  # type: ignore[union-attr]
        if other is None:
            self.check_near(doc_id, signature, split, where)
        elif other[1] != split:
            self.problem(
                DUPLICATE_TEXT_ACROSS_SPLITS,
                f"Documents {other[0]!r} ({other[1]}) and {doc_id!r} ({split}) have exactly the same text.",
                details={"documents": [other[0], doc_id], "splits": [other[1], split]}, **where,
            )
        else:
            self.stats.duplicate_texts += 1
            self.problem(
                DUPLICATE_TEXT,
                f"Documents {other[0]!r} and {doc_id!r} ({split}) have exactly the same text.",
                details={"documents": [other[0], doc_id]}, **where,
            )
        if alone:
            self.end_segment()
        return True
