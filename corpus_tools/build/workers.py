"""The build's run over its input: segments validated and built by one
:class:`~corpus_tools.build.tables.SegmentBuilder`.

A Label Studio export goes through the validate stage's segment driver
(:func:`corpus_tools.validate.segmented.checked_segments`) with the builder as its step, so each segment is
parsed once, checked and turned into tables, in worker processes or in this process.  An export the segments
cannot read, and document JSONL, go through the validate stage's stream reading
(:func:`corpus_tools.validate.driver.iter_validated`), whose tasks or documents feed the same builder.

Whichever way, :class:`SegmentMerger` takes the results in input order: the validation problems and counts with the
whole-export check (:class:`~corpus_tools.validate.segmented.ValidationMerger`), then what needs every document
(repeated document ids, the leakage audit: :class:`~corpus_tools.build.writer.ReleaseWriter`) and the tables.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from corpus_tools.build.tables import SegmentBuilder, SegmentResult
from corpus_tools.build.writer import ReleaseWriter
from corpus_tools.errors import InputError
from corpus_tools.ontology import Ontology
from corpus_tools.report import Report
from corpus_tools.spans import Document
from corpus_tools.validate.segmented import ValidationMerger, WorkerPool, checked_segments

STREAM_TASKS = 250  # tasks (or documents) per segment when the input is read as a stream
Progress = Callable[[str, int, int | None], None]


@dataclass
class BuildOutcome:
    """The validation report of the input, its sha256 and the processes that built its rows (the build's own
    problems and statistics are in the :class:`~corpus_tools.build.writer.ReleaseWriter`)."""

    validation: Report
    input_sha256: str
    workers: int


class SegmentMerger(ValidationMerger):
    """Takes segment results in input order: the validation problems and counts (see
    :class:`~corpus_tools.validate.segmented.ValidationMerger`), then the build's problems, statistics, identity
    checks and tables in ``writer``."""

    def __init__(self, writer: ReleaseWriter, counts: dict[str, int]) -> None:
        super().__init__(counts, file=writer.file, warnings_per_code=writer.report.warnings_per_code)
        self.writer = writer
        self.gold_used: set[str] = set()  # ids of the --gold documents a task carried

    def add(self, result: SegmentResult) -> None:  # type: ignore[override]
        super().add(result)
        writer = self.writer
        tasks = [keys for keys in result.tasks if keys.doc_id is not None]
        # the split the worker took from the plan (an earlier assignment, else the hash rule: the same for every
        # task of one document id)
        writer.assign([(keys.doc_id, keys.split) for keys in tasks])  # type: ignore[misc]
        writer.begin_segment([keys.doc_id for keys in tasks if keys.digest is not None],  # type: ignore[misc]
                             [keys.digest for keys in tasks if keys.digest is not None],
                             [keys.signature for keys in tasks if keys.signature is not None])
        for keys in tasks:
            if keys.gold_file:
                self.gold_used.add(keys.doc_id)  # type: ignore[arg-type]
            if keys.before:
                writer.report.extend(keys.before)
            if keys.digest is None:
                continue
            if writer.check_key(keys.doc_id, keys.digest, keys.split, keys.where or {},  # type: ignore[arg-type]
                                keys.signature):
                writer.stats.gold_sources[keys.source or ""] += 1
                if keys.after:
                    writer.report.extend(keys.after)
        writer.end_segment()
        writer.stats.merge(result.stats)
        for (config, split), (table, weights) in result.load().items():
            writer.writer(config, split).write_table(table, weights)


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
    """Validate and build the segments of ``export`` in the worker processes of ``pool`` (made with this
    ``builder``; None: in this process), ``merger`` taking their results here.  Raises
    :class:`~corpus_tools.validate.segmented.SegmentsUnreadable` when the export must be read as a stream."""
    hasher = _Hasher(export)
    total = export.stat().st_size

    def built(done: int) -> None:
        if progress is not None:
            progress("build", done, total)

    hasher.start()  # with a pool: its workers were forked when it was made, before this thread started
    try:
        for result in checked_segments(export, builder, pool=pool, progress=built):
            merger.add(result)  # type: ignore[arg-type]
    finally:
        hasher.join()
    if hasher.error is not None:
        raise InputError(f"cannot read {export}: {hasher.error}") from hasher.error
    return BuildOutcome(merger.report(total), hasher.digest, pool.count if pool is not None else 1)


def build_stream(export: Path, ontology: Ontology, builder: SegmentBuilder, merger: SegmentMerger, *,
                 progress: Progress | None = None) -> BuildOutcome:
    """Validate ``export`` (a Label Studio export or document JSONL) as ``validate`` does, reading it as a stream in
    this process, and build what it parsed in segments of :data:`STREAM_TASKS` tasks or documents.

    Once the data proves invalid (or the builder fails on it), building stops and validation reads on, so the
    report locates every problem; the builder's exception is raised only when validation found none."""
    from corpus_tools.validate.driver import iter_validated

    total = export.stat().st_size
    report = Report(warnings_per_code=merger.validation.warnings_per_code)
    hasher = _Hasher(export)
    hasher.start()

    def validated(done: int) -> None:
        if progress is not None:
            progress("build", done, total)

    failure: Exception | None = None
    batch: list[tuple[int, object]] = []
    kind = "export"
    try:
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
