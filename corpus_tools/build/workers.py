"""The parallel path of a build: segments of the export validated and built in worker processes.

The main process cuts the export into segments of whole tasks
(:func:`corpus_tools.build.segments.iter_segments`); worker processes (forked, one per core, at
most :data:`MAX_WORKERS`) parse each segment with msgspec, validate every task and build the
segment's Arrow tables (:class:`corpus_tools.build.tables.SegmentBuilder`).  The main process
takes the answers in segment order: it merges the validation problems and counts, replays the
checks that need every task (repeated article ids, repeated document ids, the leakage audit, new
split assignments) in task order, and writes the tables to the shard writers while the workers go
on.  The result is what the serial path (:class:`corpus_tools.build.rows.Builder` after
``validate_export``) gives: same report, same statistics, same files.

:func:`run_parallel` returns the reason, a string, when the export cannot be cut or a segment cannot
be parsed or built (malformed JSON, invalid UTF-8, lone surrogates, integers beyond 64 bits, values of
unexpected types): the caller then runs the serial path, which locates the problem exactly.
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
from dataclasses import dataclass
from pathlib import Path

import msgspec

from corpus_tools.build.rows import Builder
from corpus_tools.build.tables import SegmentBuilder, SegmentResult
from corpus_tools.errors import BuildError, InputError
from corpus_tools.keys import SeenKeys
from corpus_tools.report import Problem, Report

MAX_WORKERS = 4
AHEAD = 2  # segments in flight per worker
_DIGITS_AS_ZERO = bytes(48 if 48 <= b <= 57 else 32 for b in range(256))  # digits -> "0", the rest -> " "
_LONG_DIGITS = b"0" * 19
SEGMENT_BYTES = 4 << 20
Progress = Callable[[str, int, int | None], None]


@dataclass
class ParallelOutcome:
    """The validation report and the input's sha256 (the build's own problems and statistics are in the
    ``Builder`` given to :func:`run_parallel`)."""

    validation: Report
    input_sha256: str


# -------------------------------------------------------------------------------------------- workers
_WORKER: dict[str, object] = {}


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


def _init_worker(builder: SegmentBuilder, path: str, spool: Path | None) -> None:
    if spool is not None:  # a worker process (None: the build's own process)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the CLI's SIGTERM and Ctrl-C cleanup belong to the parent
        if signal.getsignal(signal.SIGINT) not in (signal.SIG_IGN, signal.SIG_DFL):
            signal.signal(signal.SIGINT, signal.default_int_handler)
        _end_with_parent()
        if "pandas" not in sys.modules:
            sys.meta_path.insert(0, _NoPandas())
    gc.disable()  # parsing allocates many containers and no cycles: collections would cost ~3x the parse
    _WORKER["builder"] = builder
    _WORKER["spool"] = spool
    _WORKER["file"] = open(path, "rb")  # noqa: SIM115 - lives as long as the worker


_DECODE = msgspec.json.Decoder().decode


def _work(segment: object) -> SegmentResult:
    builder: SegmentBuilder = _WORKER["builder"]  # type: ignore[assignment]
    raw = segment.read(_WORKER["file"])  # type: ignore[attr-defined]
    if raw.translate(_DIGITS_AS_ZERO).find(_LONG_DIGITS) >= 0:  # yajl refuses integers beyond 64 bits, msgspec
        # keeps them: such a file goes the serial way (a translate and a find: ~10x faster than a regex)
        return SegmentResult(first_index=segment.first_index, count=segment.count,  # type: ignore[attr-defined]
                             error="a run of 19 or more digits (an integer beyond 64 bits?)")
    try:
        tasks = _DECODE(b"[" + raw + b"]")  # rejects invalid UTF-8 and lone surrogates, as the serial reader
        del raw
        result = builder.build(tasks, segment.first_index)  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - unparsable or unexpected data: the serial path reports it exactly
        return SegmentResult(first_index=segment.first_index, count=segment.count,  # type: ignore[attr-defined]
                             error=f"{type(exc).__name__}: {exc}")
    spool = _WORKER.get("spool")
    if spool is not None:
        result.spool(spool)  # type: ignore[arg-type]
    return result


class WorkerPool:
    """The worker processes of one build, forked at once (they inherit ``builder``; no thread of this process
    exists in them).  They build the segments, then run the release checks' file scans (``executor``).
    Leaving the context ends them."""

    def __init__(self, builder: SegmentBuilder, export: Path, spool: Path, count: int) -> None:
        context = multiprocessing.get_context("fork")  # workers inherit the builder: nothing to import or pickle
        self.count = count
        self.executor = ProcessPoolExecutor(count, mp_context=context, initializer=_init_worker,
                                            initargs=(builder, str(export), spool))
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
    """Worker processes for ``workers`` (None: one per usable core, at most MAX_WORKERS); 1 means this process
    builds alone, as it does where processes cannot be forked (the workers inherit the builder by fork)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return workers or max(1, min(MAX_WORKERS, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                                 else (os.cpu_count() or 1)))


# -------------------------------------------------------------------------------------------- main side
class _Merger:
    """Takes segment results in order: the validation problems here, the build's problems, statistics,
    identity checks and rows in ``builder`` (the serial path's :class:`~corpus_tools.build.rows.Builder`)."""

    def __init__(self, builder: Builder, counts: dict[str, int]) -> None:
        self.builder = builder
        self.validation: list[Problem] = []
        self.counts = dict.fromkeys(counts, 0)
        self.articles = SeenKeys()

    def add(self, result: SegmentResult) -> None:
        self._validation(result)
        for name, value in result.counts.items():
            self.counts[name] = self.counts.get(name, 0) + value
        builder = self.builder
        assignments = builder.plan.assignments
        for keys in result.tasks:
            if keys.doc_id is None:
                continue
            split = assignments.setdefault(keys.doc_id, keys.split)  # plan.assign, the hash taken in the worker
            if keys.before:
                builder.report.extend(keys.before)
            if keys.digest is None:
                continue
            if builder.check_key(keys.doc_id, keys.digest, split, keys.where or {}):
                builder.stats.gold_sources[keys.source or ""] += 1
                if keys.after:
                    builder.report.extend(keys.after)
        builder.stats.merge(result.stats)
        for (config, split), (table, weights) in result.load().items():
            builder.writer(config, split).write_table(table, weights)

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


def run_parallel(
    export: Path,
    builder: SegmentBuilder,
    rows: Builder,
    spool: Path,
    *,
    progress: Progress | None = None,
    pool: WorkerPool | None = None,
) -> ParallelOutcome | str:
    """Validate and build ``export`` in the worker processes of ``pool`` (made with this ``builder``; None: in
    this process): ``builder`` builds segments there, ``rows`` takes their rows, problems and statistics here.
    A reason when the caller must take the serial path."""
    from corpus_tools.build.segments import SegmentError, iter_segments

    hasher = _Hasher(export)
    merger = _Merger(rows, counts=builder.run.semantic.counts)
    total = export.stat().st_size
    cut_failed: list[str] = []

    def segments() -> Iterator[object]:
        try:
            yield from iter_segments(export, target_bytes=SEGMENT_BYTES, check_utf8=False)  # msgspec checks it
        except SegmentError as exc:
            cut_failed.append(f"the export cannot be cut into tasks: {exc}")

    if pool is None:
        hasher.start()
        _init_worker(builder, str(export), None)
        try:
            results: Iterator[SegmentResult] = map(_work, segments())
            failure = _consume(results, merger, progress, total)
        finally:
            _WORKER["file"].close()  # type: ignore[attr-defined]
            _WORKER.clear()
            gc.enable()
    else:
        hasher.start()  # the workers were forked when the pool was made, before this process starts a thread
        try:
            failure = _consume(_bounded(pool.executor, segments(), AHEAD * pool.count), merger, progress, total)
        except BrokenProcessPool as exc:  # a worker died (killed, out of memory): a failure to run
            raise pool.died(exc) from exc
    if hasher.ident is not None:  # started (a failure before the workers ran leaves it unstarted)
        hasher.join()
    if failure is not None or cut_failed:
        return failure or cut_failed[0]
    if hasher.error is not None:
        raise InputError(f"cannot read {export}: {hasher.error}") from hasher.error
    validation = Report()
    validation.stats = {"format": "labelstudio-export", "bytes": total, **merger.counts}
    validation.extend(merger.validation)
    return ParallelOutcome(validation, hasher.digest)


def _bounded(pool: ProcessPoolExecutor, segments: Iterator[object], ahead: int) -> Iterator[SegmentResult]:
    """Results in segment order, with at most ``ahead`` segments submitted and not yet taken (so the spool
    holds a few segments' tables, not the whole release)."""
    pending: deque[Future] = deque()
    for segment in segments:
        pending.append(pool.submit(_work, segment))
        if len(pending) >= ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _consume(results: Iterator[SegmentResult], merger: _Merger, progress: Progress | None,
             total: int) -> str | None:
    done = 0
    for result in results:
        if result.error is not None:
            return f"task {result.first_index} or one of the {result.count - 1} after it: {result.error}"
        merger.add(result)
        done += 1
        if progress is not None:
            progress("build", min(total, done * SEGMENT_BYTES), total)
    return None
