"""The checks behind :func:`corpus_tools.release.manifest.check_release`, one method per family.

With an ontology, the expected Features come from :mod:`corpus_tools.features` and a
card in the shape ``build`` writes is read with PyYAML alone, so neither ``datasets`` nor
``huggingface_hub`` is imported; any other card is parsed by datasets' own parsers.

Data checks stream each Parquet file by record batch (memory stays flat), in chunks of row
groups run several at a time (threads, or the executor given, such as the build's workers), over
whole batches (:mod:`corpus_tools.release.scan`): ClassLabel ranges, entity ``text[start:end]``,
relation ends, token lengths, UTF-8.  The scans locate the first few problems of each code in a
file and count the rest; the checks that need every file (duplicate ids and texts, splits,
relation counts, the tokens and relations rows against the documents rows) run once here.
"""

from __future__ import annotations

import functools
import json
import os
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from corpus_tools.errors import InputError
from corpus_tools.features import VIEW_CONFIGS, ReleaseFeatures, base_config, classlabel_columns, release_features
from corpus_tools.keys import KeyValues, store_failures
from corpus_tools.ontology import Ontology
from corpus_tools.release import consistency as C
from corpus_tools.release import manifest as R
from corpus_tools.release import scan as S
from corpus_tools.release.card import default_config_name, read_built_card
from corpus_tools.release.splits import SPLIT_NAME, read_assignments
from corpus_tools.report import Report, make_problem
from corpus_tools.schemas import bundled_pass
from corpus_tools.strictjson import loads as json_loads
from corpus_tools.text import sha256_file

if TYPE_CHECKING:
    import pyarrow as pa
    from datasets import Features

_NO_ID = b"no id"  # the key of a row without an id (bytes: never equal to a str id)
_CROSS_CODES = {"tokens": R.TOKENS_DOCUMENT, "relations": R.RELATIONS_DOCUMENT, "documents": R.VIEW_DOCUMENT}
THREADS = min(4, os.cpu_count() or 1)
SCAN_WINDOW = 4  # chunks in flight per worker, ahead of the one whose results are taken
STORE_CACHE_KIB = 2 * 1024  # the page cache of each store of the documents checks: SQLite's default, as fast here
# as the build's larger one (their keys are looked up a chunk at a time), and three of them are open at once


@dataclass
class Reference:
    """What a config's Parquet files are checked against."""

    schema: pa.Schema  # with the b"huggingface" metadata
    classlabels: list[tuple[str, str | None, int]]
    features: Callable[[], Features]  # the datasets Features, only for a mismatch's comparison


class ReleaseChecker:
    """Runs every check on one release folder, adding problems to ``report``."""

    def __init__(self, root: Path, report: Report, ontology: Ontology | None,
                 executor: Executor | None = None) -> None:
        self.root = root
        self.executor = executor  # runs the file scans (default: THREADS threads of this process)
        self.report = report
        self.ontology = ontology
        self.manifest: dict | None = None
        self.card_data = None
        self.configs: dict = {}
        self.infos: dict = {}
        self.reference: dict[str, Reference] = {}
        self.card_in_built_shape = False  # the card was read without datasets (see _read_card)
        self._rows_cache: dict[Path, int | None] = {}
        self.split_files: dict[tuple[str, str], list[str]] = {}
        self.rows: Counter[tuple[str, str]] = Counter()
        self.assignments: KeyValues | None = None  # splits.json's, on disk: document id → (split, None)
        self.doc_relations: Counter[str] = Counter()
        self.unchecked: set[tuple[str, str]] = set()  # (config, split) with a file whose rows were not read
        self.stats: dict[str, object] = {}
        self.unreadable: set[str] = set()  # files reported release-file-unreadable
        self.uncounted: set[tuple[str, str]] = set()  # (config, split) with an unreadable file: rows unknown

    def problem(self, code: str, message: str, **where: object) -> None:
        self.report.add(make_problem(code, message, **where))

    def unreadable_file(self, rel: str, failed: Unreadable) -> None:
        """``rel`` could not be read (once per file: the checks after the first one that failed skip it)."""
        if rel not in self.unreadable:
            self.unreadable.add(rel)
            self.problem(R.FILE_UNREADABLE, f"{rel} cannot be read ({failed.reason}); make it readable (or build"
                         " the release again) and check it again.", file=rel)

    def run(self) -> None:
        for name in R.REQUIRED_FILES:
            if not (self.root / name).is_file():
                self.problem(R.FILE_MISSING, f"{name} is missing; rebuild the release.", file=name)
        self.check_manifest()
        self.check_splits_file()
        self.check_card()
        self.check_layout()
        self.check_features()
        self.check_data()
        self.check_counts()
        self.report.stats = {
            "configs": {f"{c}/{s}": n for (c, s), n in sorted(self.rows.items())},
            "files": len(R.release_files(self.root)),
        }

    # -- files and manifest ----------------------------------------------------------------------
    def check_manifest(self) -> None:
        path = self.root / R.MANIFEST_NAME
        if not path.is_file():
            return
        try:
            manifest = json_loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            self.problem(R.MANIFEST_INVALID, f"manifest.json cannot be read: {exc}.", file=R.MANIFEST_NAME)
            return
        errors = bundled_pass(R.MANIFEST_SCHEMA).errors(manifest)
        for error in errors:
            self.problem(R.MANIFEST_INVALID, f"{error.message} (at {error.json_path}).", file=R.MANIFEST_NAME,
                         json_path=error.json_path)
        if errors:
            return
        for rel in R.manifest_paths_outside(manifest):
            self.problem(R.MANIFEST_INVALID, f"manifest.json lists {rel!r}, which is not a path inside the release"
                         " folder; rebuild the release.", file=R.MANIFEST_NAME)
        self.manifest = manifest
        present = set(R.release_files(self.root))
        sizes = {rel: _guarded(_size, self.root / rel) for rel in manifest["files"] if rel in present}
        hashed = [rel for rel, size in sizes.items() if size == manifest["files"][rel]["bytes"]]
        with ThreadPoolExecutor(THREADS) as pool:  # hashlib releases the GIL on large reads
            shas = dict(zip(hashed, pool.map(_guarded, [sha256_file] * len(hashed),
                                             [self.root / rel for rel in hashed]), strict=True))
        for rel, entry in sorted(manifest["files"].items()):
            path = self.root / rel
            if rel not in present:
                self.problem(R.FILE_MISSING, f"{rel} is listed in manifest.json but missing.", file=rel)
                continue
            size = sizes[rel]
            failed = size if isinstance(size, Unreadable) else shas.get(rel)
            if isinstance(failed, Unreadable):
                self.unreadable_file(rel, failed)
                continue
            if size != entry["bytes"]:
                self.problem(R.SHA_MISMATCH, f"{rel} has {size} bytes, manifest.json says {entry['bytes']}.",
                             file=rel)
            elif shas[rel] != entry["sha256"]:
                self.problem(R.SHA_MISMATCH, f"{rel} does not match its sha256 in manifest.json.", file=rel)
            if "rows" in entry and rel.endswith(".parquet"):
                rows = self._num_rows(path)
                if rows is not None and rows != entry["rows"]:
                    self.problem(R.ROW_COUNT, f"{rel} has {rows} rows, manifest.json says {entry['rows']}.",
                                 file=rel)
        for rel in sorted(present - set(manifest["files"])):
            self.problem(R.FILE_UNLISTED, f"{rel} is not listed in manifest.json; remove it or rebuild.", file=rel)
        for rel in R.release_symlinks(self.root):
            self.problem(R.SYMLINK, f"{rel} is a symbolic link to {os.readlink(self.root / rel)}; a release folder"
                         " holds its files itself: copy the file in place of the link, or rebuild.", file=rel)
        if "tokenizer" not in manifest and manifest.get("configs", {}).get("tokens"):
            self.problem(R.TOKENIZER_UNKNOWN, "manifest.json does not name the tokenizer of the tokens config (made"
                         " before tokenizer version 2); its tokens are not checked against the tokenizer.",
                         file=R.MANIFEST_NAME)
        if self.ontology is not None:
            mine = {"name": self.ontology.name, "version": self.ontology.version,
                    "sha256": self.ontology.source_sha256}
            theirs = manifest["ontology"]
            if {k: theirs.get(k) for k in mine} != mine:
                self.problem(
                    R.ONTOLOGY_MISMATCH,
                    f"Built with ontology {theirs.get('name')} {theirs.get('version')}, checked against"
                    f" {mine['name']} {mine['version']} (or their sha256 differ).",
                    file=R.MANIFEST_NAME,
                )

    def _num_rows(self, path: Path) -> int | None:
        import pyarrow.parquet as pq

        if path not in self._rows_cache:
            try:
                self._rows_cache[path] = pq.ParquetFile(path).metadata.num_rows
            except Exception:  # noqa: BLE001 - reported by the schema check
                self._rows_cache[path] = None
        return self._rows_cache[path]

    def _can_read(self, rel: str) -> bool:
        """Whether ``rel`` can be opened (not: a problem, once)."""
        if rel in self.unreadable:
            return False
        try:
            with open(self.root / rel, "rb"):
                return True
        except OSError as exc:
            self.unreadable_file(rel, Unreadable.of(exc))
            return False

    def check_splits_file(self) -> None:
        path = self.root / R.SPLITS_NAME
        if not path.is_file() or not self._can_read(R.SPLITS_NAME):
            return
        import ijson

        assignments = KeyValues(cache_kib=STORE_CACHE_KIB)
        try:
            read_assignments(path, assignments)
        except (OSError, UnicodeDecodeError, ijson.JSONError, ValueError, KeyError, TypeError) as exc:
            assignments.close()
            self.problem(R.SPLITS_INVALID, f"splits.json is invalid: {exc}.", file=R.SPLITS_NAME)
            return
        self.assignments = assignments

    # -- card --------------------------------------------------------------------------------------
    def check_card(self) -> None:
        path = self.root / R.CARD_NAME
        if not path.is_file() or not self._can_read(R.CARD_NAME):
            return
        if self.ontology is not None and self._read_card(path):
            return
        from datasets.info import DatasetInfosDict
        from datasets.utils.metadata import MetadataConfigs
        from huggingface_hub import DatasetCard

        try:
            card = DatasetCard.load(path)
            configs = MetadataConfigs.from_dataset_card_data(card.data)
            infos = DatasetInfosDict.from_dataset_card_data(card.data)
        except Exception as exc:  # noqa: BLE001 - any parse failure is a card problem
            self.problem(R.CARD_INVALID, f"README.md metadata cannot be parsed: {exc}.", file=R.CARD_NAME)
            return
        if not configs:
            self.problem(R.CARD_INVALID, "README.md has no `configs` in its YAML front matter.", file=R.CARD_NAME)
            return
        raw_infos = card.data.get("dataset_info") or []
        raw_infos = raw_infos if isinstance(raw_infos, list) else [raw_infos]
        for entry in raw_infos:
            for split in entry.get("splits") or []:
                if not {"name", "num_bytes", "num_examples"} <= set(split):
                    self.problem(
                        R.CARD_INVALID,
                        f"dataset_info {entry.get('config_name')} split {split.get('name')} lacks num_bytes or"
                        " num_examples (datasets then drops the whole splits block).",
                        file=R.CARD_NAME,
                    )
        self._check_default(configs.get_default_config_name)
        self.card_data, self.configs, self.infos = card.data, configs, infos

    def _check_default(self, default_name: Callable[[], str | None]) -> None:
        """The card's default config is ``documents`` (``default_name`` raises ValueError for several)."""
        try:
            default = default_name()
        except ValueError as exc:
            self.problem(R.NO_DEFAULT, f"{exc}.", file=R.CARD_NAME)
            return
        if default != R.DEFAULT_CONFIG:
            self.problem(R.NO_DEFAULT, f"The default config is {default!r}, not {R.DEFAULT_CONFIG!r}.",
                         file=R.CARD_NAME)

    def _read_card(self, path: Path) -> bool:
        """Read a card in the shape ``build`` writes with PyYAML alone (no datasets import).

        Returns False, having changed nothing, for any other card (unparsable, other keys or
        types, README features other than the ontology's), which datasets' parsers then read:
        for the cards accepted here, ``self.configs`` and ``self.infos`` hold what those
        parsers give and every check that follows finds the same problems.
        """
        card = read_built_card(path, self._release_features().yaml)
        if card is None:
            return False
        for entry in card.raw_infos:
            for split in entry.get("splits") or []:  # complete in a built card; kept for the same order
                if not {"name", "num_bytes", "num_examples"} <= set(split):
                    return False
        self._check_default(lambda: default_config_name(card.configs))
        self.card_data, self.configs, self.infos = card.data, card.configs, card.infos
        self.card_in_built_shape = True
        return True

    def check_layout(self) -> None:
        if not self.configs:
            return
        patterns: dict[tuple[str, str], list[str]] = {}
        for config, params in self.configs.items():
            data_files = params.get("data_files")
            if not isinstance(data_files, list) or not all(isinstance(d, dict) for d in data_files):
                self.problem(R.CARD_INVALID, f"Config {config} must list data_files as {{split, path}} items.",
                             file=R.CARD_NAME)
                continue
            for item in data_files:
                split = item["split"]
                if not SPLIT_NAME.fullmatch(split):
                    self.problem(R.SPLIT_NAME, f"Split name {split!r} of config {config} is invalid.",
                                 file=R.CARD_NAME)
                paths = item["path"] if isinstance(item["path"], list) else [item["path"]]
                patterns.setdefault((config, split), []).extend(paths)
        files = [f for f in R.release_files(self.root) if f.endswith(".parquet")]
        matches = R.match_data_files(patterns, files)
        for (config, split), globs in patterns.items():
            matched = sorted(f for f, keys in matches.items() if (config, split) in keys)
            if not matched:
                self.problem(R.DATA_FILES_UNMATCHED, f"data_files {globs} of {config}/{split} match no file.",
                             file=R.CARD_NAME)
            self.split_files[(config, split)] = matched
        for f, keys in sorted(matches.items()):
            if len(keys) > 1:
                self.problem(R.DATA_FILES_OVERLAP, f"{f} is matched by {', '.join('/'.join(k) for k in keys)}.",
                             file=f)
            elif not keys:
                self.problem(R.DATA_FILE_ORPHAN, f"{f} is matched by no data_files pattern of the card.", file=f)
        for config in sorted(set(self.infos) - set(self.configs)):
            self.problem(R.CONFIG_MISMATCH, f"dataset_info describes {config}, which configs does not list.",
                         file=R.CARD_NAME)
        for config, info in self.infos.items():
            declared = {s for (c, s) in patterns if c == config}
            for split in sorted(set(info.splits or {}) - declared):
                self.problem(R.CONFIG_MISMATCH, f"dataset_info lists split {config}/{split} with no data_files.",
                             file=R.CARD_NAME)
        if self.manifest is not None:
            mine = {(c, s): sorted(v["files"]) for c, splits in self.manifest["configs"].items()
                    for s, v in splits.items()}
            for key in sorted(set(mine) | set(self.split_files)):
                if mine.get(key) != self.split_files.get(key):
                    self.problem(
                        R.CONFIG_MISMATCH,
                        f"{'/'.join(key)}: manifest.json lists {mine.get(key)}, the card's data_files match"
                        f" {self.split_files.get(key)}.",
                        file=R.MANIFEST_NAME,
                    )

    # -- features ----------------------------------------------------------------------------------
    def check_features(self) -> None:
        if self.ontology is not None:
            self._check_features_cached()
        else:
            self._check_features_datasets()
        for (config, _split), files in sorted(self.split_files.items()):
            reference = self.reference.get(config)
            if reference is None:
                continue
            for rel in files:
                self._check_schema(rel, reference)

    def _view_names(self) -> list[str]:
        """The views the manifest names (their configs are release configs too)."""
        views = (self.manifest or {}).get("views")
        return list(views) if isinstance(views, dict) else []

    def _release_features(self) -> ReleaseFeatures:
        return release_features(self.ontology).with_views(self._view_names())

    def _expected_features(self) -> dict[str, Features]:
        from corpus_tools.artefacts import ontology_to_features

        features = ontology_to_features(self.ontology)
        for name in self._view_names():
            for config in VIEW_CONFIGS:
                features[f"{config}-{name}"] = features[config]
        return features

    def _check_features_cached(self) -> None:
        cached = self._release_features()
        for config in self.configs:
            card_features = self._card_features(config)
            if config not in cached.schemas:
                self.problem(R.CONFIG_MISMATCH, f"Config {config} is not a release config of the ontology.",
                             file=R.CARD_NAME)
                continue
            self.reference[config] = Reference(cached.schemas[config], cached.classlabels[config],
                                               lambda c=config: self._expected_features()[c])
            if card_features is None or self.card_in_built_shape:  # a built card's features are the cached ones
                continue
            expected = self._expected_features()[config]
            if card_features != expected:
                self.problem(R.CARD_FEATURES, self._feature_diff(config, card_features, expected), file=R.CARD_NAME)

    def _check_features_datasets(self) -> None:
        layout = _layout_columns()
        for config in self.configs:
            card_features = self._card_features(config)
            if card_features is None:
                continue
            missing = [column for column in layout.get(base_config(config), ()) if column not in card_features]
            if missing:  # the data checks read them: the files are left unchecked, not read as another layout
                self.problem(R.LAYOUT_COLUMNS, f"dataset_info features of {config} lack the column"
                             f"{'s' if len(missing) > 1 else ''} {', '.join(missing)} that this corpus-tools writes"
                             " in every release and checks; its files were not checked (a release of another"
                             " layout: build it again, or check it with the version that built it).",
                             file=R.CARD_NAME)
                continue
            self.reference[config] = Reference(card_features.arrow_schema, classlabel_columns(card_features),
                                               lambda f=card_features: f)

    def _card_features(self, config: str) -> Features | None:
        """The card's features of ``config``; a problem when it has none."""
        info = self.infos.get(config)
        card_features = info.features if info is not None else None
        if card_features is None:
            self.problem(R.CARD_FEATURES, f"dataset_info has no features for config {config}.", file=R.CARD_NAME)
        return card_features

    @staticmethod
    def _feature_diff(config: str, found: Features, expected: Features) -> str:
        names = [k for k in sorted(set(found) | set(expected)) if found.get(k) != expected.get(k)]
        return f"README features of {config} differ from the config's Features in: {', '.join(names)}."

    def _check_schema(self, rel: str, reference: Reference) -> None:
        import pyarrow.parquet as pq

        if rel in self.unreadable:
            return
        try:
            schema = pq.read_schema(self.root / rel)
        except OSError as exc:  # pyarrow's I/O errors (permissions, a folder, a vanished file) are OSErrors
            self.unreadable_file(rel, Unreadable.of(exc))
            return
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for bad files
            self.problem(R.SCHEMA_MISMATCH, f"{rel} is not a readable Parquet file: {exc}.", file=rel)
            return
        expected = reference.schema
        if not schema.equals(expected, check_metadata=False):
            self.problem(R.SCHEMA_MISMATCH, f"{rel} schema differs from the Features: {schema} != {expected}.",
                         file=rel)
            return
        meta = (schema.metadata or {}).get(b"huggingface")
        if meta is None:
            self.problem(R.SCHEMA_MISMATCH, f"{rel} lacks the huggingface schema metadata.", file=rel)
        elif meta == (expected.metadata or {}).get(b"huggingface"):
            return  # the metadata the Features themselves write
        elif _features_from_schema(schema) != reference.features():
            self.problem(R.SCHEMA_MISMATCH, f"{rel} huggingface metadata features differ from the Features.",
                         file=rel)

    # -- data --------------------------------------------------------------------------------------
    def check_data(self) -> None:
        import pyarrow as pa

        # sha256 of a text → (id, split) of its first document (on disk, as the ids)
        texts = KeyValues(tagged=True, cache_kib=STORE_CACHE_KIB)
        doc_ids = KeyValues(tagged=True, cache_kib=STORE_CACHE_KIB)
        jobs: list[tuple[str, str, str, Reference | None]] = []
        for (config, split), files in sorted(self.split_files.items()):
            reference = self.reference.get(config)
            for rel in files:
                unreadable = rel in self.unreadable or any(p.file == rel and p.code == R.SCHEMA_MISMATCH
                                                           for p in self.report)
                jobs.append((config, split, rel, None if unreadable else reference))

        own = None
        if self.executor is None:
            _scanning_process()  # this process's threads scan
            own = ThreadPoolExecutor(THREADS)
        pool = self.executor or own
        rows = S.PROCESS_SCAN_ROWS if isinstance(pool, ProcessPoolExecutor) else S.SCAN_ROWS
        try:
            # every file's row groups in chunks (a big file is scanned by all workers), submitted a window of chunks
            # ahead of the one whose results are taken, in order; each chunk's results are merged into its file's
            # as they are taken (a documents chunk's ids and text digests go to the stores on disk), so the peak
            # grows neither with the number of files nor with their rows
            readable = self._readable(jobs)
            against = self._tokens_against(readable)
            cross = self._submit_relations(pool, readable)
            last_documents = max((index for index, job in enumerate(jobs) if job[0] == "documents"), default=-1)
            taking: _FileTake | None = None
            for index, future, last in self._scans(pool, jobs, against, rows):
                config, split, rel, _ = jobs[index]
                if taking is None:  # the file's first chunk
                    self.rows[(config, split)] += self._num_rows(self.root / rel) or 0
                    if rel in self.unreadable:
                        self.uncounted.add((config, split))
                    if future is None:
                        self.unchecked.add((config, split))
                        continue
                    documents = None if config != "documents" else _DocumentsTake(
                        split, index, texts, doc_ids, self.assignments)
                    taking = _FileTake(documents)
                taking.take(future.result())
                if last:
                    self._file_scanned(config, split, rel, taking, readable, cross)
                    taking = None
                    if index == last_documents:  # the files after it need no store: their page caches go now
                        self._close_stores(texts, doc_ids)
                    pa.default_memory_pool().release_unused()  # keep the peak flat across many files
            self._report_cross(cross)
        finally:
            if own is not None:
                own.shutdown(wait=True, cancel_futures=True)
            self._close_stores(texts, doc_ids)

    def _close_stores(self, texts: KeyValues, doc_ids: KeyValues) -> None:
        """Close the stores of the documents checks (again: a no-op)."""
        for store in (texts, doc_ids, self.assignments):
            if store is not None:
                store.close()

    def _scans(self, pool: Executor, jobs: list[tuple[str, str, str, Reference | None]],
               against: dict[tuple[str, str], tuple[Path, list[str], str, int, str | None]], rows: int
               ) -> Iterator[tuple[int, Future | None, bool]]:
        """The scan of each chunk of each file, in order: (the file's index in ``jobs``, the scan, whether it is the
        file's last chunk); a file that is not scanned once, with None.  Each is submitted :data:`SCAN_WINDOW` chunks
        per worker ahead of the one taken."""

        def submitted() -> Iterator[tuple[int, Future | None, bool]]:
            for index, (config, split, rel, reference) in enumerate(jobs):
                chunks = None if reference is None else S.row_group_chunks(self.root / rel)
                if chunks is None:
                    yield index, None, True
                    continue
                for k, chunk in enumerate(chunks):
                    yield index, pool.submit(_scan_job, S.scan_file, self.root / rel, base_config(config),
                                             reference.classlabels, chunk, rows, against.get((split, rel))), \
                        k == len(chunks) - 1

        ahead: deque[tuple[int, Future | None, bool]] = deque()
        for item in submitted():
            ahead.append(item)
            if len(ahead) > SCAN_WINDOW * THREADS:
                yield ahead.popleft()
        yield from ahead

    def _file_scanned(self, config: str, split: str, rel: str, taking: _FileTake,
                      readable: dict[tuple[str, str], list[str]], cross: list[tuple[str, str, Future | C.CrossScan]]
                      ) -> None:
        """The problems of a file whose chunks were all taken, and what the checks across configs need of it."""
        failed = taking.failed
        if failed is not None:  # the file (or, for tokens, a documents file it is compared with)
            if taking.documents is not None:
                taking.documents.forget()  # as if its rows had never been read
            named = failed.file_of(self.root, [rel, *readable.get(("documents", split), [])])
            self.unreadable_file(named, failed)
            self.unchecked.add((config, split))
            self.uncounted.add((config, split))
            return
        result = taking.scan
        self._report_labels(rel, result.labels)
        self._report_findings(rel, result.findings, result.counts)
        if taking.documents is not None:
            self._report_documents(rel, split, taking.documents, result.relations)
        elif base_config(config) == "tokens" and result.cross is not None:
            cross.append((config, split, result.cross))
        elif config == "relations":
            self.doc_relations[f"relations:{split}"] += self._num_rows(self.root / rel) or 0

    def _readable(self, jobs: list[tuple[str, str, str, Reference | None]]) -> dict[tuple[str, str], list[str]]:
        """The files of every (config, split) whose files all have the expected schema, in order."""
        files: dict[tuple[str, str], list[str]] = {}
        unreadable: set[tuple[str, str]] = set()
        for config, split, rel, reference in jobs:
            files.setdefault((config, split), []).append(rel)
            if reference is None:
                unreadable.add((config, split))
        return {key: rels for key, rels in files.items() if key not in unreadable}

    def _tokens_against(self, readable: dict[tuple[str, str], list[str]]
                        ) -> dict[tuple[str, str], tuple[Path, list[str], str, int, str | None]]:
        """For each tokens file of a split whose documents files are readable: what its scan compares its rows
        with (the documents files, and the split row of the file's first row)."""
        out: dict[tuple[str, str], tuple[Path, list[str], str, int, str | None]] = {}
        tokenizer = (self.manifest or {}).get("tokenizer")
        segmentation = tokenizer.get("segmentation") if isinstance(tokenizer, dict) else None
        for (config, split), rels in sorted(readable.items()):
            documents = readable.get((_documents_of(config), split))
            if base_config(config) != "tokens" or not documents:
                continue
            first = 0
            for rel in rels:
                out[(split, rel)] = (self.root, documents, rel, first, segmentation)
                first += self._num_rows(self.root / rel) or 0
        return out

    def _submit_relations(self, pool: Executor, readable: dict[tuple[str, str], list[str]]
                          ) -> list[tuple[str, str, Future | C.CrossScan]]:
        """A job per split comparing its relations rows with its documents rows (files all readable)."""
        jobs: list[tuple[str, str, Future | C.CrossScan]] = [
            ("relations", split, pool.submit(_scan_job, C.cross_relations, self.root, readable[("documents", split)],
                                             rels))
            for (config, split), rels in sorted(readable.items())
            if config == "relations" and ("documents", split) in readable]
        views = (self.manifest or {}).get("views") or {}
        for (config, split), rels in sorted(readable.items()):
            base, _, name = config.partition("-")
            if base == "documents" and name in views and ("documents", split) in readable:
                jobs.append((config, split, pool.submit(_scan_job, C.cross_view, self.root,
                                                        readable[("documents", split)], rels, tuple(views[name]))))
        return jobs

    def _report_cross(self, cross: list[tuple[str, str, Future | C.CrossScan]]) -> None:
        """The cross-config mismatches of the splits whose files passed their own checks (a damaged file is
        reported once, by the check that names the damage)."""
        damaged = {p.file for p in self.report.problems if p.file}
        counted: Counter[tuple[str, str]] = Counter()
        located: Counter[tuple[str, str]] = Counter()
        for config, split, future in cross:
            scan: C.CrossScan | Unreadable = future if isinstance(future, C.CrossScan) else future.result()
            files = [*self.split_files.get((config, split), ()),
                     *self.split_files.get((_documents_of(config), split), ())]
            if isinstance(scan, Unreadable):
                if not damaged & set(files):
                    self.unreadable_file(scan.file_of(self.root, files), scan)
                continue
            if damaged & set(files):
                continue
            counted[(config, split)] += scan.counts[base_config(config)]
            for m in scan.mismatches:
                if located[(config, split)] >= C.LOCATED:
                    break
                located[(config, split)] += 1
                self.problem(_CROSS_CODES[base_config(config)],
                             f"{config}/{split} row {m.row} of {m.file} (document {m.document_id!r}): {m.what}.",
                             file=m.file, details={"row": m.row, "document_id": m.document_id})
        for (config, split), count in sorted(counted.items()):
            if count > located[(config, split)]:
                more = count - located[(config, split)]
                self.problem(_CROSS_CODES[base_config(config)], f"{config}/{split}: {more} more"
                             f" rows disagree with the documents rows ({count} in all).", file=R.CARD_NAME)

    def _report_labels(self, rel: str, bad: Counter[str]) -> None:
        for where, count in sorted(bad.items()):
            if count:
                self.problem(R.LABEL_RANGE, f"{count} ids in {where} are missing or out of range.", file=rel,
                             details={"column": where, "count": count})

    def _report_findings(self, rel: str, findings: list[S.Finding], counts: Counter[str]) -> None:
        """The problems a scan located in ``rel``, and for each code one more saying how many were not located."""
        for finding in findings:
            self.problem(finding.code, finding.message, file=rel, details=finding.details)
        located = Counter(finding.code for finding in findings)
        for code, count in sorted(counts.items()):
            self._report_more(code, rel, count, located[code])

    def _report_more(self, code: str, rel: str, count: int, located: int) -> None:
        if count > located:
            self.problem(code, f"{count - located} more problems of this kind in {rel} ({count} in all).",
                         file=rel, details={"count": count})

    def _report_documents(self, rel: str, split: str, taken: _DocumentsTake, relations: int) -> None:
        """The problems of a documents file against the files before it (:class:`_DocumentsTake`)."""
        for code, message, row, doc_id in [*taken.in_rows, *taken.hashes]:
            self.problem(code, message, file=rel, details={"row": row, "document_id": doc_id})
        for code, count in sorted(taken.counts.items()):
            self._report_more(code, rel, count, min(count, S.LOCATED))
        self.doc_relations[split] += relations

    def check_counts(self) -> None:
        """Row counts against the card, the manifest and the other configs (not for a split with an unreadable file:
        its rows are unknown, and the file is reported)."""
        counted = {key for key in self.split_files if key not in self.uncounted}
        for config, info in self.infos.items():
            for split, split_info in (info.splits or {}).items():
                found = self.rows.get((config, split), 0)
                if (config, split) in counted and split_info.num_examples != found:
                    self.problem(R.ROW_COUNT, f"{config}/{split} has {found} rows, the card says"
                                 f" num_examples {split_info.num_examples}.", file=R.CARD_NAME)
        if self.manifest is not None:
            for config, splits in self.manifest["configs"].items():
                for split, entry in splits.items():
                    found = self.rows.get((config, split), 0)
                    if (config, split) in counted and entry["num_examples"] != found:
                        self.problem(R.ROW_COUNT, f"{config}/{split} has {found} rows, manifest.json says"
                                     f" {entry['num_examples']}.", file=R.MANIFEST_NAME)
        if "relations" in self.configs or any(c == "relations" for c, _ in self.split_files):
            for (config, split), _ in sorted(self.split_files.items()):
                if config != "documents" or {(config, split), ("relations", split)} & (self.unchecked | self.uncounted):
                    continue
                in_docs, rows = self.doc_relations[split], self.doc_relations[f"relations:{split}"]
                if in_docs != rows:
                    self.problem(R.CROSS_CONFIG, f"documents/{split} holds {in_docs} relations, relations/{split}"
                                 f" has {rows} rows.", file=R.CARD_NAME)
        for (config, split), _ in sorted(self.split_files.items()):
            # tokens and every view's configs have one row per documents row
            paired = config != "documents" and base_config(config) in VIEW_CONFIGS
            if paired and {(config, split), ("documents", split)} <= counted:
                if self.rows[(config, split)] != self.rows[("documents", split)]:
                    self.problem(R.CROSS_CONFIG, f"{config}/{split} has {self.rows[(config, split)]} rows,"
                                 f" documents/{split} {self.rows[('documents', split)]}.", file=R.CARD_NAME)


class _FileTake:
    """A file's chunk scans merged as they are taken, in row order (the first unreadable one ends it)."""

    def __init__(self, documents: _DocumentsTake | None) -> None:
        self.scan = S.FileScan()  # without the rows' ids and digests: ``documents`` takes them
        self.documents = documents
        self.failed: Unreadable | None = None

    def take(self, part: S.FileScan | Unreadable) -> None:
        if self.failed is not None:
            return
        if isinstance(part, Unreadable):
            self.failed = part
            return
        self.scan.merge(part)
        if self.documents is not None:
            self.documents.take(part)


class _DocumentsTake:
    """The checks of a documents file against the files before it, a chunk of its rows at a time: ids seen once,
    each document in its splits.json split, no text in two splits (``texts`` and ``doc_ids`` gather every file's,
    on disk, stored with the file's ``tag``), each stored ``text_sha256`` the hash of its text.  Only the first
    few problems of each code are kept until the file is reported; the rest are counted."""

    def __init__(self, split: str, tag: int, texts: KeyValues, doc_ids: KeyValues,
                 assignments: KeyValues | None) -> None:
        self.split, self.tag = split, tag
        self.texts, self.doc_ids, self.assignments = texts, doc_ids, assignments
        self.rows = 0  # the file row of the next chunk's first row
        self.counts: Counter[str] = Counter()
        self.in_rows: list[tuple[str, str, int, str | None]] = []  # ids, splits and texts: (code, message, row, id)
        self.hashes: list[tuple[str, str, int, str | None]] = []  # text_sha256, reported after them

    def take(self, scan: S.FileScan) -> None:
        split, ids = self.split, scan.ids
        assignments = None
        if self.assignments is not None:
            found = self.assignments.get_many(doc_id for doc_id in ids if doc_id is not None)
            assignments = {doc_id: value[0] for doc_id, value in found.items()}
        seen = self.doc_ids.first_many([_NO_ID if doc_id is None else doc_id for doc_id in ids],
                                       [(None, None)] * len(ids), tag=self.tag)
        firsts = self.texts.first_many(scan.text_keys, [(doc_id, split) for doc_id in ids], tag=self.tag)
        for row, (doc_id, earlier, first) in enumerate(zip(ids, seen, firsts, strict=True), self.rows):
            if earlier is not None:
                self._add(self.in_rows, R.DUPLICATE_ID, f"Document {doc_id!r} appears twice.", row, doc_id)
            if assignments is not None and assignments.get(doc_id) != split:  # type: ignore[arg-type]
                self._add(self.in_rows, R.SPLIT_ASSIGNMENT, f"Document {doc_id!r} is in {split}, splits.json says"
                          f" {assignments.get(doc_id)}.", row, doc_id)  # type: ignore[arg-type]
            other = (doc_id, split) if first is None else first
            if other[1] != split:
                self._add(self.in_rows, R.DUPLICATE_TEXT, f"Documents {other[0]!r} ({other[1]}) and {doc_id!r}"
                          f" ({split}) have exactly the same text.", row, doc_id)
        stored_hashes = scan.text_sha256 or [None] * len(ids)  # a file without the column fails the schema check
        for row, (doc_id, key, stored) in enumerate(zip(ids, scan.text_keys, stored_hashes, strict=True), self.rows):
            if stored != key.hex():
                self._add(self.hashes, R.TEXT_SHA256, f"Document {doc_id!r}: text_sha256 {stored!r} is not the sha256"
                          f" of its text ({key.hex()}); rebuild the release.", row, doc_id)
        self.rows += len(ids)

    def _add(self, into: list[tuple[str, str, int, str | None]], code: str, message: str, row: int,
             doc_id: str | None) -> None:
        self.counts[code] += 1
        if self.counts[code] <= S.LOCATED:
            into.append((code, message, row, doc_id))

    def forget(self) -> None:
        """Remove the keys this file stored (its file turned out unreadable part way)."""
        self.texts.forget(self.tag)
        self.doc_ids.forget(self.tag)


def _documents_of(config: str) -> str:
    """The documents config a config's rows are compared with: ``documents-NAME`` for ``tokens-NAME``,
    ``documents`` for every other (``tokens``, ``relations``, a view's ``documents-NAME``)."""
    base, sep, name = config.partition("-")
    return f"documents{sep}{name}" if base == "tokens" else "documents"


@dataclass(frozen=True)
class Unreadable:
    """What a check running in a thread or worker process gives back instead of raising when a file cannot be
    read: an OSError (permissions, an I/O error, a folder in the file's place, a file that vanished)."""

    reason: str
    path: str | None

    @classmethod
    def of(cls, exc: OSError) -> Unreadable:
        reason = os.strerror(exc.errno) if exc.errno else (str(exc) or type(exc).__name__)
        named = exc.filename if isinstance(exc.filename, str) else None
        return cls(reason, named or str(exc))

    def file_of(self, root: Path, candidates: list[str]) -> str:
        """Which of the ``candidates`` (paths relative to ``root``) the error names (the first one when none)."""
        said = self.path or ""
        for rel in sorted(candidates, key=len, reverse=True):
            if str(root / rel) in said:
                return rel
        return candidates[0]


def _guarded(function: Callable, *args: object) -> object:
    """``function(*args)``, or :class:`Unreadable` when it raised an OSError (a worker's I/O error is a located
    problem, never an exception that ends the run)."""
    try:
        return function(*args)
    except OSError as exc:
        return Unreadable.of(exc)


def _scan_job(function: Callable, *args: object) -> object:
    """A job of the data checks (a chunk's scan, a split's cross-config check), :func:`_guarded`, in a process
    that scans (:func:`_scanning_process`)."""
    _scanning_process()
    return _guarded(function, *args)


@functools.cache
def _scanning_process() -> None:
    """Make Arrow's system allocator this process's default, once, before its first scan: decoding a chunk of row
    groups, Arrow's default one (mimalloc) keeps freed pages for the next allocation, about 40 MB more per scanning
    process at 100k and 1M tasks for the same CPU (docs/benchmarks.md).  In the build's worker processes that is
    at their first job of the checks, after every Parquet file was written (a fork inherits both the allocator and
    this function's cache)."""
    import pyarrow as pa

    if pa.default_memory_pool().backend_name != "system":
        pa.set_memory_pool(pa.system_memory_pool())


def _size(path: Path) -> int:
    return path.stat().st_size


def _features_from_schema(schema: pa.Schema) -> Features:
    from datasets import Features

    return Features.from_arrow_schema(schema)


@functools.cache
def _layout_columns() -> dict[str, tuple[str, ...]]:
    """The top-level columns of each base config that every release has, whatever its ontology (``meta`` holds
    the fields an ontology declares, and is absent when it declares none)."""
    from corpus_tools.artefacts import ontology_to_features
    from corpus_tools.ontology import load_ontology

    return {config: tuple(column for column in features if column != "meta")
            for config, features in ontology_to_features(load_ontology()).items()}


@store_failures("check-release")
def check_release(directory: str | Path, *, ontology: Ontology | None = None,
                  executor: Executor | None = None) -> Report:
    """Every pre-publish check of a release folder, as a report (never raises on bad data).

    Files: required files present, every file listed in the manifest with matching sha256 and
    size, nothing unlisted.  Card: YAML parses with datasets' own parsers, ``documents`` is the
    single default, every ``data_files`` pattern matches at least one file and no file is matched
    twice or not at all, split names are valid, configs agree with ``dataset_info`` and the
    manifest.  Features: every Parquet schema equals the config's ``Features.arrow_schema``
    (metadata included) and the README features equal them (the ontology's Features when an
    ontology is given).  Data: row counts equal ``num_examples``, ClassLabel ids are in range,
    ``text[start:end]`` equals each entity's text, relation heads and tails exist, token offsets
    are consistent, documents are in their splits.json split and no text is in two splits.
    ``executor`` runs the data scans (row groups of the Parquet files, in chunks); by default a few threads
    of this process (``build`` passes its worker processes).
    Raises :class:`InputError` only when ``directory`` is not a folder.
    """
    root = Path(directory)
    if not root.is_dir():
        raise InputError(f"{root} is not a folder" + ("" if root.exists() else " (it does not exist)"))
    report = Report()
    ReleaseChecker(root, report, ontology, executor).run()
    return report
