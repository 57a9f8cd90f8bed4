"""A Label Studio export read in segments of whole tasks, checked in worker processes or in this process.

The export is cut into segments (:func:`corpus_tools.validate.segments.iter_segments`); each segment is parsed
with msgspec and handed to a *step*, whose ``build(tasks, first_index)`` returns a :class:`CheckedSegment` (or a
subclass: the build's step also makes the segment's rows).  With a :class:`WorkerPool`, forked worker processes
(one per core, at most :data:`MAX_WORKERS`) run the step; without one, this process does, segment after segment:
parallelism is a parameter, not a second path.  The results come back in input order.

Per-task checks run in the step; the checks that need every task (repeated article ids and task ids,
:class:`ExportKeys`) run here, once, as the results are merged in order (:class:`ValidationMerger`).  An export
that cannot be cut, or a segment that cannot be parsed as ``validate`` would read it (malformed JSON, invalid
UTF-8, lone surrogates, integers beyond 64 bits, nesting beyond :data:`~corpus_tools.strictjson.MAX_DEPTH`),
raises :class:`SegmentsUnreadable`: the caller then reads the export as a stream, which locates the problem.
"""

from __future__ import annotations

import gc
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

import msgspec

from corpus_tools import codes as C
from corpus_tools.checks import ItemChecker
from corpus_tools.errors import BuildError, CorpusToolsError, InputError, OutputError
from corpus_tools.keys import SeenKeys
from corpus_tools.ontology import Ontology
from corpus_tools.report import WARNINGS_PER_CODE, Problem, Report, make_problem
from corpus_tools.strictjson import check_depth
from corpus_tools.validate.segments import Segment, SegmentError, iter_segments

MAX_WORKERS = 4
MAX_WORKER_PROCESSES = 256  # what --workers may ask for: more cores than any machine has, far fewer than a typo forks
AHEAD = 2  # segments in flight per worker
SEGMENT_BYTES = 4 << 20
_DIGITS_AS_ZERO = bytes(48 if 48 <= b <= 57 else 32 for b in range(256))  # digits -> "0", the rest -> " "
_LONG_DIGITS = b"0" * 19
_DECODE = msgspec.json.Decoder().decode
Progress = Callable[[int], None]


class SegmentsUnreadable(Exception):
    """The export cannot be cut into segments, or a segment cannot be parsed or built: read it as a stream."""


@dataclass
class CheckedSegment:
    """The per-task checks of one segment: problems by task index, counts, and for the whole-export checks the
    ``(article id or None, index, task id)`` of every task object (:meth:`ExportKeys.check`)."""

    first_index: int
    count: int
    validation: list[tuple[int, list[Problem]]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    articles: list[tuple[str, int, object]] = field(default_factory=list)

    def spool(self, directory: Path) -> None:
        """Move what is large out of the answer before it goes back to the main process (nothing here)."""


class SegmentStep(Protocol):
    def build(self, tasks: list, first_index: int) -> CheckedSegment: ...


class TaskChecks:
    """The step of ``validate``: every task of a segment of the export ``file`` (which its problems name) through
    the per-task checks."""

    def __init__(self, ontology: Ontology, file: str | None = None) -> None:
        self.run = ItemChecker(ontology)
        self.file = file

    def build(self, tasks: list, first_index: int) -> CheckedSegment:
        result = CheckedSegment(first_index=first_index, count=len(tasks))
        run = self.run
        before = dict(run.semantic.counts)
        for offset, task in enumerate(tasks):
            index = first_index + offset
            problems: list[Problem] = []
            run.task(task, index, problems, file=self.file)
            if problems:
                result.validation.append((index, problems))
            if type(task) is dict:
                result.articles.append((article_id_of(task), index, task.get("id")))
        result.counts = {k: v - before.get(k, 0) for k, v in run.semantic.counts.items()}
        return result


def article_id_of(task: object) -> str | None:
    """The task's ``data.article_id`` when it is a non-empty string (what the whole-export check compares)."""
    if type(task) is not dict:
        return None
    data = task.get("data")
    article_id = data.get("article_id") if type(data) is dict else None
    return article_id if type(article_id) is str and article_id else None


def duplicate_article_problem(article_id: str, index: int, task_id: object, first: tuple[int, object], *,
                              file: str | None = None) -> Problem:
    """The problem of the task at ``index`` of the export ``file`` whose ``data.article_id`` an earlier task
    (``first``: its index and task id) already carries."""
    first_index, first_task_id = first
    return make_problem(
        C.TASK_DUPLICATE_ARTICLE_ID,
        f"Task {task_id} carries data.article_id {article_id!r} like task {first_task_id} (item {first_index}): the"
        " article was imported twice; delete one task (keep the one with the annotations).",
        file=file,
        task_id=task_id,
        json_path=f"$[{index}].data.article_id",
        details={"first_task_id": first_task_id, "first_index": first_index},
    )


def duplicate_task_id_problem(task_id: object, index: int, first: tuple[int, object], *,
                              file: str | None = None) -> Problem:
    """The problem of the task at ``index`` whose Label Studio ``id`` an earlier task (``first``: its index and
    article id) already carries."""
    first_index, first_article = first
    article = f" (data.article_id {first_article!r})" if first_article is not None else ""
    return make_problem(
        C.TASK_DUPLICATE_ID,
        f"Task id {task_id!r} is also the id of item {first_index}{article}: Label Studio gives every task its own"
        " id, so the export was edited or merged from two projects; export the project again, or give one of the"
        " tasks another id.",
        file=file,
        task_id=task_id,  # type: ignore[arg-type]
        json_path=f"$[{index}].id",
        details={"first_index": first_index, "first_article_id": first_article},
    )


class ExportKeys:
    """The whole-export checks of the tasks of an export, taken in input order: an article imported twice
    (``task-duplicate-article-id``) and a task id used twice (``task-duplicate-id``, not reported again for a task
    that repeats an article: one problem for one repeated task)."""

    def __init__(self, file: str | None = None) -> None:
        self.file = file
        self.articles = SeenKeys()
        self.ids = SeenKeys()

    def check(self, article_id: str | None, index: int, task_id: object) -> Problem | None:
        """The problem of the task at ``index`` (its ``data.article_id`` as :func:`article_id_of` gives it), if
        any."""
        key = _id_key(task_id)
        seen_id = self.ids.first(key, index, article_id) if key is not None else None
        if article_id is not None:
            seen = self.articles.first(article_id, index, task_id)
            if seen is not None:
                return duplicate_article_problem(article_id, index, task_id, seen, file=self.file)
        if seen_id is not None:
            return duplicate_task_id_problem(task_id, index, seen_id, file=self.file)
        return None


def _id_key(task_id: object) -> str | None:
    """The key of a task id (an integer or a non-empty string; 5 and "5" differ), None for no id."""
    if type(task_id) is int:
        return f"i{task_id}"
    if type(task_id) is str and task_id:
        return f"s{task_id}"
    return None


# -------------------------------------------------------------------------------------------- workers
class SegmentWorker:
    """Runs a step over segments of one export in one process: the step, the export open for reading, and the
    spool folder large answers go to (None: they go back as they are)."""

    def __init__(self, step: SegmentStep, export: Path, spool: Path | None) -> None:
        self.step = step
        self.export = export
        self.spool = spool
        self.file: BinaryIO | None = None

    def __enter__(self) -> SegmentWorker:
        try:
            self.file = open(self.export, "rb")  # noqa: SIM115 - closed by __exit__ (a worker process: at its end)
        except OSError as exc:
            raise _cannot_read(self.export, exc) from exc
        return self

    def __exit__(self, *exc: object) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None

    def work(self, segment: Segment) -> CheckedSegment:
        """The segment checked (and built); :class:`SegmentsUnreadable` when it cannot be read as ``validate``
        reads it."""
        assert self.file is not None
        try:
            raw = segment.read(self.file)
        except OSError as exc:  # an I/O error: a failure to run, raised in the main process as it is
            raise _cannot_read(self.export, exc) from exc
        except SegmentError as exc:  # the file changed since it was cut: the stream reading says how
            raise _unreadable(segment, str(exc)) from exc
        if raw.translate(_DIGITS_AS_ZERO).find(_LONG_DIGITS) >= 0:  # yajl refuses integers beyond 64 bits,
            # msgspec keeps them: such a file is read as a stream (a translate and a find: cheaper than a regex)
            raise _unreadable(segment, "a run of 19 or more digits (an integer beyond 64 bits?)")
        try:
            check_depth(raw)  # the stream reading refuses values nested deeper, located
            tasks = _DECODE(b"[" + raw + b"]")  # rejects invalid UTF-8 and lone surrogates, as ijson does
            del raw
            result = self.step.build(tasks, segment.first_index)
        except Exception as exc:  # noqa: BLE001 - unreadable or unexpected data: the stream locates it
            raise _unreadable(segment, f"{type(exc).__name__}: {exc}") from exc
        if self.spool is not None:
            try:
                result.spool(self.spool)
            except OSError as exc:
                raise OutputError(f"cannot write {self.spool}: {exc.strerror or exc}") from exc
        return result


def _cannot_read(export: Path, exc: OSError) -> InputError:
    """The error of an export a worker cannot read (it pickles: it is raised again in the main process)."""
    return InputError(f"cannot read {export}: {exc.strerror or exc}")


def _unreadable(segment: Segment, reason: str) -> SegmentsUnreadable:
    return SegmentsUnreadable(f"task {segment.first_index} or one of the {segment.count - 1} after it: {reason}")


def _end_with_parent() -> None:
    """A worker ends when the main process ends, even when that one is killed (no orphans left waiting)."""
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
    """Keeps pandas out of a worker: pyarrow imports it at its first pa.array() only to recognise pandas
    objects, which a worker never has (docs/benchmarks.md: the import's cost)."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError("pandas is not used by segment workers")


class _ForkedWorker:
    """The :class:`SegmentWorker` of a worker process.  A process pool calls a function named in a module, so
    the pool's initializer leaves the worker it inherited by fork here; the main process never does."""

    worker: SegmentWorker | None = None
    failure: CorpusToolsError | None = None  # the worker's export could not be opened: every job raises this

    @classmethod
    def start(cls, worker: SegmentWorker) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the CLI's SIGTERM and Ctrl-C cleanup belong to the parent
        if signal.getsignal(signal.SIGINT) not in (signal.SIG_IGN, signal.SIG_DFL):
            signal.signal(signal.SIGINT, signal.default_int_handler)
        _end_with_parent()
        if "pandas" not in sys.modules:
            sys.meta_path.insert(0, _NoPandas())
        gc.disable()  # parsing allocates many containers and no cycles: collections would cost more than the parse
        try:
            cls.worker = worker.__enter__()
        except CorpusToolsError as exc:  # raised by the first job: an initializer's exception would break the pool
            cls.failure = exc

    @classmethod
    def work(cls, segment: Segment) -> CheckedSegment:
        if cls.failure is not None:
            raise cls.failure
        assert cls.worker is not None
        return cls.worker.work(segment)


class WorkerPool:
    """The worker processes of one run, forked at once (they inherit ``step``; no thread of this process exists
    in them).  They run the step over segments, then whatever else the caller submits (the build's release
    checks scan files there: ``executor``).  Leaving the context ends them."""

    def __init__(self, step: SegmentStep, export: Path, spool: Path | None, count: int, *, stage: str) -> None:
        self.stage = stage
        context = multiprocessing.get_context("fork")  # workers inherit the step: nothing to import or pickle
        self.count = count
        self.executor = ProcessPoolExecutor(count, mp_context=context, initializer=_ForkedWorker.start,
                                            initargs=(SegmentWorker(step, export, spool),))
        try:
            self.executor.submit(int).result()  # a fork context starts every worker at the first submit
        except BaseException:
            self.executor.shutdown(wait=True, cancel_futures=True)
            raise

    def died(self, exc: BaseException) -> BuildError:
        return BuildError(f"a {self.stage} worker process died ({exc}); nothing was written")

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


def pool_size(workers: int | None) -> int:
    """Processes that run the step for ``workers`` (None: one per usable core, at most MAX_WORKERS); 0 and 1 mean
    this process alone, as where processes cannot be forked (the workers inherit the step by fork).  More than
    :data:`MAX_WORKER_PROCESSES` is an InputError."""
    if workers is not None and workers > MAX_WORKER_PROCESSES:
        raise InputError(f"{workers} worker processes asked for: give at most {MAX_WORKER_PROCESSES} worker processes"
                         " (one per core is the most that helps)")
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    if workers is not None:
        return max(1, workers)
    return max(1, min(MAX_WORKERS, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                      else (os.cpu_count() or 1)))


# -------------------------------------------------------------------------------------------- main side
def checked_segments(export: Path, step: SegmentStep, *, pool: WorkerPool | None = None,
                     progress: Progress | None = None, segment_bytes: int | None = None) -> Iterator[CheckedSegment]:
    """The step's results for every segment of ``export``, in input order, from the workers of ``pool`` (made with
    this step) or from this process.  Raises :class:`SegmentsUnreadable` (possibly after some results) when the
    export must be read as a stream instead, the pool's :meth:`WorkerPool.died` error when a worker died, and
    :class:`~corpus_tools.errors.InputError` (:class:`~corpus_tools.errors.OutputError` for the spool) when a
    worker or this process meets an I/O error: never the OSError itself.  ``segment_bytes``: the segments' size
    (default :data:`SEGMENT_BYTES`)."""
    try:
        total = export.stat().st_size
    except OSError as exc:
        raise _cannot_read(export, exc) from exc
    target = segment_bytes or SEGMENT_BYTES

    def segments() -> Iterator[Segment]:
        try:
            yield from iter_segments(export, target_bytes=target, check_utf8=False)  # msgspec checks it
        except SegmentError as exc:
            raise SegmentsUnreadable(f"the export cannot be cut into tasks: {exc}") from exc
        except OSError as exc:
            raise _cannot_read(export, exc) from exc

    if pool is None:
        with SegmentWorker(step, export, None) as worker, collections_paused():
            results = map(worker.work, segments())
            yield from _with_progress(results, progress, total, target)
    else:
        try:
            yield from _with_progress(_bounded(pool.executor, segments(), AHEAD * pool.count), progress, total,
                                      target)
        except BrokenProcessPool as exc:  # a worker died (killed, out of memory): a failure to run
            raise pool.died(exc) from exc


def _with_progress(results: Iterator[CheckedSegment], progress: Progress | None, total: int,
                   segment_bytes: int) -> Iterator[CheckedSegment]:
    for done, result in enumerate(results, 1):
        yield result
        if progress is not None:
            progress(min(total, done * segment_bytes))


@contextmanager
def collections_paused() -> Iterator[None]:
    """Parsing allocates many containers and no cycles: the cyclic collector would cost more than the parse."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _bounded(pool: ProcessPoolExecutor, segments: Iterator[Segment], ahead: int) -> Iterator[CheckedSegment]:
    """Results in segment order, with at most ``ahead`` segments submitted and not yet taken (so the spool
    holds a few segments' answers, not the whole export)."""
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


class ValidationMerger:
    """Takes checked segments in input order: their problems and counts, and the whole-export checks
    (:class:`ExportKeys`) placed after the problems of the task that repeats a key, as the stream reading places
    them.  The problems go into the report as they come (a segment's at a time: the report keeps what its bounds
    say, so this process's memory does not grow with the problems of the export).
    ``file``: the export, which the whole-export problems name; ``max_errors`` and ``warnings_per_code``: the
    report's bounds (see :class:`~corpus_tools.report.Report`)."""

    def __init__(self, counts: dict[str, int], *, file: str | None = None, max_errors: int | None = None,
                 warnings_per_code: int = WARNINGS_PER_CODE) -> None:
        self.validation = Report(max_errors=max_errors, warnings_per_code=warnings_per_code)
        self.counts = dict.fromkeys(counts, 0)
        self.keys = ExportKeys(file)

    def add(self, result: CheckedSegment) -> None:
        for name, value in result.counts.items():
            self.counts[name] = self.counts.get(name, 0) + value
        duplicates: dict[int, Problem] = {}
        for article_id, index, task_id in result.articles:
            problem = self.keys.check(article_id, index, task_id)
            if problem is not None:
                duplicates[index] = problem
        if not duplicates:
            for _, problems in result.validation:
                self.validation.extend(problems)
            return
        by_index = dict(result.validation)
        for index in sorted(set(by_index) | set(duplicates)):
            self.validation.extend(by_index.get(index, ()))
            if index in duplicates:
                self.validation.add(duplicates[index])

    def report(self, size: int) -> Report:
        """The validation report of an export of ``size`` bytes, as the stream reading gives it."""
        report = self.validation
        report.stats = {"format": "labelstudio-export", "bytes": size, **self.counts}
        return report
