"""Segments of the input built by one :class:`~corpus_tools.build.tables.SegmentBuilder`, here or in worker processes.

A Label Studio export is cut into segments of whole tasks (:func:`corpus_tools.build.segments.iter_segments`);
with a :class:`WorkerPool`, forked worker processes (one per core, at most :data:`MAX_WORKERS`) parse each
segment with msgspec, validate every task and build the segment's Arrow tables; without one, this process
does the same, segment after segment.  An export that cannot be cut, or a segment that cannot be parsed
(malformed JSON, invalid UTF-8, lone surrogates, integers beyond 64 bits), raises :class:`SegmentsUnreadable`:
the caller then reads the export as a stream (:func:`build_stream`, which document JSONL always takes): the
validate stage's reading, whose tasks or documents feed the same builder.

Whichever way the segments were made, :class:`SegmentMerger` takes their results in input order: it merges the
validation problems and counts, checks what needs every task (repeated article ids here, repeated document
ids and the leakage audit in the :class:`~corpus_tools.build.writer.ReleaseWriter`), and writes the tables.
"""

from __future__ import annotations

import gc
import hashlib
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import msgspec

from corpus_tools.build.segments import Segment
from corpus_tools.build.tables import SegmentBuilder, SegmentResult
from corpus_tools.build.writer import ReleaseWriter
from corpus_tools.errors import BuildError, InputError
from corpus_tools.keys import SeenKeys
from corpus_tools.ontology import Ontology
from corpus_tools.report import Problem, Report
from corpus_tools.spans import Document

MAX_WORKERS = 4
AHEAD = 2  # segments in flight per worker
_DIGITS_AS_ZERO = bytes(48 if 48 <= b <= 57 else 32 for b in range(256))  # digits -> "0", the rest -> " "
_LONG_DIGITS = b"0" * 19
SEGMENT_BYTES = 4 << 20
STREAM_TASKS = 1000  # tasks (or documents) per segment when the input is read as a stream
Progress = Callable[[str, int, int | None], None]


@dataclass
class BuildOutcome:
    """The validation report of the input, its sha256 and the processes that built its rows (the build's own
    problems and statistics are in the :class:`~corpus_tools.build.writer.ReleaseWriter`)."""

    validation: Report
    input_sha256: str
    workers: int


class SegmentsUnreadable(Exception):
    """The export cannot be cut into segments, or a segment cannot be parsed or built: read it as a stream."""


# -------------------------------------------------------------------------------------------- workers
def _end_with_parent() -> None:
    """A worker ends when the build process ends, even when that one is killed (no orphans left waiting)."""
    parent = os.getppid()
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        pass

    def watch() -> None:  # other systems, and a parent that died before prctl
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


class _NoPandas:
    """Keeps pandas out of a worker: pyarrow imports it at its first pa.array() (a quarter second per
    process) only to recognise pandas objects, which a worker never has."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError("pandas is not used by build workers")


_DECODE = msgspec.json.Decoder().decode


class SegmentWorker:
    """Builds segments of one export in one process: the builder, the export open for reading, and the spool
    folder the tables go to (None: they stay in memory, for the build's own process)."""

    def __init__(self, builder: SegmentBuilder, export: Path, spool: Path | None) -> None:
        self.builder = builder
        self.export = export
        self.spool = spool
        self.file: BinaryIO | None = None

    def __enter__(self) -> SegmentWorker:
        self.file = open(self.export, "rb")  # noqa: SIM115 - closed by __exit__ (a worker process: at its end)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None

    def work(self, segment: Segment) -> SegmentResult:
        """The segment validated and built; :class:`SegmentsUnreadable` when it cannot be."""
        assert self.file is not None
        raw = segment.read(self.file)
        if raw.translate(_DIGITS_AS_ZERO).find(_LONG_DIGITS) >= 0:  # yajl refuses integers beyond 64 bits,
            # msgspec keeps them: such a file is read as a stream (a translate and a find: ~10x faster than a regex)
            raise _unreadable(segment, "a run of 19 or more digits (an integer beyond 64 bits?)")
        try:
            tasks = _DECODE(b"[" + raw + b"]")  # rejects invalid UTF-8 and lone surrogates, as ijson does
            del raw
            result = self.builder.build(tasks, segment.first_index)
        except Exception as exc:  # noqa: BLE001 - unparsable or unexpected data: the stream reading locates it
            raise _unreadable(segment, f"{type(exc).__name__}: {exc}") from exc
        if self.spool is not None:
            result.spool(self.spool)
        return result


def _unreadable(segment: Segment, reason: str) -> SegmentsUnreadable:
    return SegmentsUnreadable(f"task {segment.first_index} or one of the {segment.count - 1} after it: {reason}")


class _ForkedWorker:
    """The :class:`SegmentWorker` of a worker process.  A process pool calls a function named in a module, so
    the pool's initializer leaves the worker it inherited by fork here; the build's own process never does."""

    worker: SegmentWorker | None = None

    @classmethod
    def start(cls, worker: SegmentWorker) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the CLI's SIGTERM and Ctrl-C cleanup belong to the parent
        if signal.getsignal(signal.SIGINT) not in (signal.SIG_IGN, signal.SIG_DFL):
            signal.signal(signal.SIGINT, signal.default_int_handler)
        _end_with_parent()
        if "pandas" not in sys.modules:
            sys.meta_path.insert(0, _NoPandas())
        gc.disable()  # parsing allocates many containers and no cycles: collections would cost ~3x the parse
        cls.worker = worker.__enter__()

    @classmethod
    def work(cls, segment: Segment) -> SegmentResult:
        assert cls.worker is not None
        return cls.worker.work(segment)


class WorkerPool:
    """The worker processes of one build, forked at once (they inherit ``builder``; no thread of this process
    exists in them).  They build the segments, then run the release checks' file scans (``executor``).
    Leaving the context ends them."""

    def __init__(self, builder: SegmentBuilder, export: Path, spool: Path, count: int) -> None:
        context = multiprocessing.get_context("fork")  # workers inherit the builder: nothing to import or pickle
        self.count = count
        self.executor = ProcessPoolExecutor(count, mp_context=context, initializer=_ForkedWorker.start,
                                            initargs=(SegmentWorker(builder, export, spool),))
        try:
            self.executor.submit(int).result()  # a fork context starts every worker at the first submit
        except BaseException:
            self.executor.shutdown(wait=True, cancel_futures=True)
            raise

    @staticmethod
    def died(exc: BaseException) -> BuildError:
        return BuildError(f"a build worker process died ({exc}); nothing was written")

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


def pool_size(workers: int | None) -> int:
    """Processes that build the segments for ``workers`` (None: one per usable core, at most MAX_WORKERS); 0 and 1
    mean this process alone, as where processes cannot be forked (the workers inherit the builder by fork)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    if workers is not None:
        return max(1, workers)
    return max(1, min(MAX_WORKERS, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                      else (os.cpu_count() or 1)))


# -------------------------------------------------------------------------------------------- main side
class SegmentMerger:
    """Takes segment results in input order: the validation problems and counts here, the build's problems,
    statistics, identity checks and tables in ``writer``."""

    def __init__(self, writer: ReleaseWriter, counts: dict[str, int]) -> None:
        self.writer = writer
        self.validation: list[Problem] = []
        self.counts = dict.fromkeys(counts, 0)
        self.articles = SeenKeys()
        self.gold_used: set[str] = set()  # ids of the --gold documents a task carried

    def add(self, result: SegmentResult) -> None:
        self._validation(result)
        for name, value in result.counts.items():
            self.counts[name] = self.counts.get(name, 0) + value
        writer = self.writer
        assignments = writer.plan.assignments
        for keys in result.tasks:
            if keys.doc_id is None:
                continue
            split = assignments.setdefault(keys.doc_id, keys.split)  # plan.assign, the hash taken in the worker
            if keys.gold_file:
                self.gold_used.add(keys.doc_id)
            if keys.before:
                writer.report.extend(keys.before)
            if keys.digest is None:
                continue
            if writer.check_key(keys.doc_id, keys.digest, split, keys.where or {}):
                writer.stats.gold_sources[keys.source or ""] += 1
                if keys.after:
                    writer.report.extend(keys.after)
        writer.stats.merge(result.stats)
        for (config, split), (table, weights) in result.load().items():
            writer.writer(config, split).write_table(table, weights)

    def _validation(self, result: SegmentResult) -> None:
        from corpus_tools.validate.driver import duplicate_article_problem

        duplicates: dict[int, Problem] = {}
        for article_id, index, task_id in result.articles:
            seen = self.articles.first(article_id, index, task_id)
            if seen is not None:
                duplicates[index] = duplicate_article_problem(article_id, index, task_id, seen)
        if not duplicates:
            for _, problems in result.validation:
                self.validation.extend(problems)
            return
        by_index = dict(result.validation)
        for index in sorted(set(by_index) | set(duplicates)):
            self.validation.extend(by_index.get(index, ()))
            if index in duplicates:
                self.validation.append(duplicates[index])

    def validation_report(self, size: int) -> Report:
        """The validation report of an export of ``size`` bytes, as ``validate_export`` gives it."""
        report = Report()
        report.stats = {"format": "labelstudio-export", "bytes": size, **self.counts}
        report.extend(self.validation)
        return report


class _Hasher(threading.Thread):
    """sha256 of the input in a thread (hashlib releases the GIL on large reads)."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.digest = ""
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            sha = hashlib.sha256()
            with open(self.path, "rb") as f:
                while chunk := f.read(1 << 22):
                    sha.update(chunk)
            self.digest = sha.hexdigest()
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            self.error = exc


def build_segments(
    export: Path,
    builder: SegmentBuilder,
    merger: SegmentMerger,
    *,
    progress: Progress | None = None,
    pool: WorkerPool | None = None,
) -> BuildOutcome:
    """Cut ``export`` into segments and build them in the worker processes of ``pool`` (made with this
    ``builder``; None: in this process), ``merger`` taking their results here.  Raises
    :class:`SegmentsUnreadable` when the export must be read as a stream instead."""
    from corpus_tools.build.segments import SegmentError, iter_segments

    hasher = _Hasher(export)
    total = export.stat().st_size

    def segments() -> Iterator[Segment]:
        try:
            yield from iter_segments(export, target_bytes=SEGMENT_BYTES, check_utf8=False)  # msgspec checks it
        except SegmentError as exc:
            raise SegmentsUnreadable(f"the export cannot be cut into tasks: {exc}") from exc

    hasher.start()  # with a pool: its workers were forked when it was made, before this thread started
    try:
        if pool is None:
            with SegmentWorker(builder, export, None) as worker, _collections_paused():
                _consume(map(worker.work, segments()), merger, progress, total)
        else:
            try:
                _consume(_bounded(pool.executor, segments(), AHEAD * pool.count), merger, progress, total)
            except BrokenProcessPool as exc:  # a worker died (killed, out of memory): a failure to run
                raise pool.died(exc) from exc
    finally:
        hasher.join()
    if hasher.error is not None:
        raise InputError(f"cannot read {export}: {hasher.error}") from hasher.error
    return BuildOutcome(merger.validation_report(total), hasher.digest, pool.count if pool is not None else 1)


@contextmanager
def _collections_paused() -> Iterator[None]:
    """Parsing allocates many containers and no cycles: the cyclic collector would cost about 3x the parse."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _bounded(pool: ProcessPoolExecutor, segments: Iterator[Segment], ahead: int) -> Iterator[SegmentResult]:
    """Results in segment order, with at most ``ahead`` segments submitted and not yet taken (so the spool
    holds a few segments' tables, not the whole release)."""
    pending: deque[Future] = deque()
    try:
        for segment in segments:
            pending.append(pool.submit(_ForkedWorker.work, segment))
            if len(pending) >= ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()


def _consume(results: Iterator[SegmentResult], merger: SegmentMerger, progress: Progress | None,
             total: int) -> None:
    for done, result in enumerate(results, 1):
        merger.add(result)
        if progress is not None:
            progress("build", min(total, done * SEGMENT_BYTES), total)


def build_stream(export: Path, ontology: Ontology, builder: SegmentBuilder, merger: SegmentMerger, *,
                 progress: Progress | None = None) -> BuildOutcome:
    """Validate ``export`` (a Label Studio export or document JSONL) as ``validate`` does, reading it as a stream in
    this process, and build what it parsed in segments of :data:`STREAM_TASKS` tasks or documents.

    Once the data proves invalid (or the builder fails on it), building stops and validation reads on, so the
    report locates every problem; the builder's exception is raised only when validation found none."""
    from corpus_tools.validate.driver import iter_validated

    total = export.stat().st_size
    report = Report()
    hasher = _Hasher(export)
    hasher.start()

    def validated(done: int) -> None:
        if progress is not None:
            progress("build", done, total)

    failure: Exception | None = None
    batch: list[tuple[int, object]] = []
    kind = "export"
    try:
        with _collections_paused():
            for kind, position, item in iter_validated(export, report, ontology=ontology, progress=validated):
                if failure is None and report.valid:
                    batch.append((position, item))
                    if len(batch) >= STREAM_TASKS:
                        failure = _build_batch(kind, batch, builder, merger)
            if batch and failure is None and report.valid:
                failure = _build_batch(kind, batch, builder, merger)
    finally:
        hasher.join()
    if failure is not None and report.valid:
        raise failure
    if hasher.error is not None:
        raise InputError(f"cannot read {export}: {hasher.error}") from hasher.error
    return BuildOutcome(report, hasher.digest, 1)


def _build_batch(kind: str, batch: list[tuple[int, object]], builder: SegmentBuilder,
                 merger: SegmentMerger) -> Exception | None:
    """Build a batch of validated tasks (``kind`` "export") or documents and empty it; the builder's exception
    when it failed (the data is then probably invalid: validation reads on to say where)."""
    try:
        if kind == "export":
            merger.add(builder.build([task for _, task in batch], batch[0][0], check=False))
        else:
            documents = [(line, Document.from_dict(doc)) for line, doc in batch]  # type: ignore[arg-type]
            merger.add(builder.build_documents(documents, batch[0][0]))
    except Exception as exc:  # noqa: BLE001 - raised by the caller when validation finds nothing
        return exc
    finally:
        batch.clear()
    return None
