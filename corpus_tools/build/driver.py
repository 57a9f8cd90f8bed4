"""Build a release folder from a validated export.

:func:`build_release` validates the input (and refuses it when invalid, with no override), picks
one gold annotation per task (:mod:`corpus_tools.build.gold`), assigns each document to a split
(:mod:`corpus_tools.release.splits`), streams the rows of the four configs into size-capped Parquet shards
(:mod:`corpus_tools.build.writer`, :mod:`corpus_tools.build.shards`), writes ``splits.json``, the card
(:mod:`corpus_tools.release.card`) and ``manifest.json``, runs :func:`corpus_tools.release.manifest.check_release`
and only then renames the temporary folder to ``out``.  An interrupted build leaves nothing at ``out``.

Every input is built by one :class:`~corpus_tools.build.tables.SegmentBuilder`, segment by segment
(:mod:`corpus_tools.build.workers`): a Label Studio export is cut into segments of whole tasks, validated and
built in worker processes (or in this process with ``workers`` 0 or 1), or read as a stream by the validate stage
(:func:`~corpus_tools.validate.driver.iter_validated`) when it cannot be cut; document JSONL is always read so, and
built from that one reading.
"""

from __future__ import annotations

import ctypes
import re
import shutil
import sys
import unicodedata
from collections.abc import Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock

from corpus_tools import __version__
from corpus_tools.build.gold import read_gold, select_gold, unused_gold
from corpus_tools.build.shards import MAX_SHARD_BYTES, ROW_GROUP_ROWS
from corpus_tools.build.tables import SegmentBuilder
from corpus_tools.build.workers import (
    BuildOutcome,
    SegmentMerger,
    build_segments,
    build_stream,
)
from corpus_tools.build.writer import LOW_AGREEMENT, NO_DOCUMENTS, SPLIT_EMPTY, ReleaseWriter
from corpus_tools.errors import InputError, InvalidDataError, OutputError, ReleaseError
from corpus_tools.files import claim_temporary, remove_dead_temporaries, rename_no_replace, unlock_temporary
from corpus_tools.keys import store_failures
from corpus_tools.ontology import Ontology, load_ontology
from corpus_tools.release.card import (
    DEFAULT_LICENSE,
    DEFAULT_RIGHTS,
    card_metadata,
    changelog_entry,
    extract_changelog,
    render_body,
    render_card,
)
from corpus_tools.release.checks import check_release
from corpus_tools.release.manifest import MANIFEST_NAME, SPLITS_NAME, read_manifest, write_manifest
from corpus_tools.release.splits import SplitPlan, read_splits
from corpus_tools.release.stats import ReleaseStats
from corpus_tools.release.version import match_version, parse_release_version
from corpus_tools.report import WARNINGS_PER_CODE, Report, make_problem
from corpus_tools.spans import DEFAULT_SEGMENTATION, Document, check_segmentation, tokenizer_settings
from corpus_tools.teams.agreement import AgreementReport
from corpus_tools.teams.pseudonyms import key_id, load_or_create_key
from corpus_tools.validate.segmented import SegmentsUnreadable, WorkerPool, pool_size
from corpus_tools.views import ViewSpec, parse_steps, parse_view

Progress = Callable[[str, int, int | None], None]


@dataclass
class BuildResult:
    """What a build produced: the release folder, its manifest and the build report."""

    out: Path
    version: str
    manifest: dict
    report: Report
    stats: ReleaseStats = field(default_factory=ReleaseStats)
    removed: list[Path] = field(default_factory=list)  # folders of killed builds of ``out`` removed first

    def to_dict(self) -> dict[str, object]:
        return {"out": str(self.out), "version": self.version, "report": self.report.to_dict(),
                "removed": [str(path) for path in self.removed]}


def check_line(value: str, what: str) -> str:
    """A one-line text for the card (the dataset name, licence, rights statement), stripped; ValueError when it is
    empty or holds a control character (a line break would break the card's title, its lists and its
    ``load_dataset("NAME")`` line)."""
    stripped = value.strip()
    if not stripped:
        raise ValueError(f"the {what} is empty")
    bad = next((ch for ch in stripped if unicodedata.category(ch) == "Cc"), None)
    if bad is not None:
        raise ValueError(f"the {what} {stripped!r} holds a control character (U+{ord(bad):04X})")
    return stripped


def check_name(name: str) -> str:
    """The dataset name for the card and manifest (see :func:`check_line`); its ``/``-separated parts (``ORG/NAME``)
    may not be empty, ``.`` or ``..`` (publish names its default folder ``./releases/NAME`` after the last)."""
    stripped = check_line(name, "dataset name")
    if any(part.strip() in ("", ".", "..") for part in stripped.split("/")):
        raise ValueError(f"the dataset name {stripped!r} has an empty, '.' or '..' part; write NAME or ORG/NAME")
    return stripped


def check_date(date: str) -> str:
    """A release date for the changelog: an existing calendar date written YYYY-MM-DD; ValueError otherwise."""
    import datetime

    stripped = date.strip()
    try:
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", stripped):
            return datetime.date.fromisoformat(stripped).isoformat()
    except ValueError:
        pass
    raise ValueError(f"the release date must be a calendar date written YYYY-MM-DD (e.g. 2026-11-29), got {date!r}")


def _ontology_change(previous: dict, ontology: Ontology, diff, version: str, report: Report,
                     file: str) -> tuple[str, ...]:
    """The changelog note of an ontology change against the previous release, and a ``build-labels-changed``
    warning when ClassLabel names were removed or moved (ids a trained model relies on) within one major
    version."""
    from corpus_tools.build.writer import LABELS_CHANGED

    old = previous.get("ontology") if isinstance(previous.get("ontology"), dict) else {}
    notes = []
    if (old.get("name"), old.get("version")) != (ontology.name, ontology.version):
        notes.append(f"Ontology: `{old.get('name')}` {old.get('version')} → `{ontology.name}` {ontology.version}.")
    breaking = {kind: c for kind, c in diff.label_changes().items() if c["removed"] or c["ids_changed"]}
    if breaking and (parse_release_version(str(previous.get("version"))).major
                     == parse_release_version(version).major):
        what = "; ".join(f"{kind} labels removed {c['removed']}, ids moved {sorted(c['ids_changed'])}"
                         for kind, c in breaking.items())
        report.add(make_problem(LABELS_CHANGED, f"ClassLabel names changed since v{previous.get('version')} ({what}):"
                                f" label ids of v{version} differ from those models were trained on; a major"
                                " version (semver) tells users so.", file=file))
    return tuple(notes)


def release_views(ontology: Ontology, views: Sequence[str | ViewSpec] = ()) -> tuple[ViewSpec, ...]:
    """The views of a release: those the ontology declares, then ``views`` (``NAME=step,step`` or
    :class:`~corpus_tools.views.ViewSpec`); one name with two different lists of steps is an InputError."""
    out: dict[str, ViewSpec] = {}
    given = [ViewSpec(name, parse_steps(steps)) for name, steps in ontology.views]
    given += [parse_view(view) if isinstance(view, str) else view for view in views]
    for view in given:
        if view.name in out and out[view.name].steps != view.steps:
            raise InputError(f"view {view.name!r} is given twice with different steps"
                             f" ({', '.join(out[view.name].steps)} and {', '.join(view.steps)}); give each view one"
                             " name")
        out[view.name] = view
    return tuple(out.values())


def _tokens_change(previous: dict, diff, version: str, report: Report, file: str) -> None:
    """A ``build-tokens-changed`` warning when the tokenizer changed since the previous release (a MAJOR change
    of the tokens config, which the changelog names) while the major version stayed the same."""
    from corpus_tools.build.writer import TOKENS_CHANGED

    change = diff.tokens_config_change()
    if change is not None and (parse_release_version(str(previous.get("version"))).major
                               == parse_release_version(version).major):
        report.add(make_problem(TOKENS_CHANGED, f"The tokens config changed since v{previous.get('version')}"
                                f" ({change}): its token boundaries differ from those models were trained on; a"
                                " major version (semver) tells users so.", file=file))


def default_name(out: Path) -> str:
    """The dataset name when none is given: the output folder's name, or its parent's for ``.../v1.0.0``."""
    resolved = out.resolve()
    if (named := match_version(resolved.name)) is not None and not named.prerelease and resolved.parent.name:
        return resolved.parent.name
    return resolved.name


def input_format(path: Path) -> str:
    """``labelstudio`` (a JSON array of tasks), ``documents`` (canonical document JSONL) or ``other`` (which
    validation reports, located), by the validate stage's :func:`~corpus_tools.validate.reading.sniff`."""
    from corpus_tools.validate.reading import sniff

    if path.exists() and not path.is_file():  # a pipe or a device cannot be read twice (the build does)
        raise InputError(f"not a file: {path} (a pipe or a device: build reads its inputs more than once; write it"
                         " to a file first)")
    try:
        return sniff(path).form
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _validate(path: Path, ontology: Ontology, progress: Progress | None) -> Report:
    from corpus_tools.validate.driver import validate_export

    callback = None
    if progress is not None:
        size = path.stat().st_size

        def callback(done: int) -> None:
            progress("validate", done, size)

    return validate_export(path, ontology=ontology, max_errors=None, progress=callback)


def _release_freed_memory() -> None:
    """Hand memory freed while building back to the OS before the checks read everything: the Parquet writers'
    (Arrow's pool) and, with glibc, what the C heap keeps of the freed rows, stores and Python objects (glibc
    returns only the top of its heap by itself)."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    if sys.platform.startswith("linux"):
        trim = getattr(ctypes.CDLL(None), "malloc_trim", None)  # glibc's; absent from other C libraries
        if trim is not None:
            trim(0)


def _refusal(export: Path, report: Report) -> InvalidDataError:
    return InvalidDataError(
        f"{export} failed validation with {report.errors_found} errors; fix them and rebuild"
        " (there is no override)",
        report,
    )


def _build_export(export: Path, ontology: Ontology, writer: ReleaseWriter, options: _RowOptions,
                  stack: ExitStack) -> tuple[SegmentMerger, BuildOutcome, WorkerPool | None]:
    """Validate and build a Label Studio export in segments (in ``workers`` processes, whose pool ``stack`` keeps
    for the release checks); an export that cannot be cut into segments is read again as a stream, validated as
    it is read."""
    builder = options.builder(ontology, writer)
    spool = writer.root / ".segments"
    spool.mkdir()
    try:
        count = pool_size(options.workers)
        pool = stack.enter_context(WorkerPool(builder, export, spool, count, stage="build")) if count > 1 else None
        merger = SegmentMerger(writer, builder.run.semantic.counts)
        try:
            return merger, build_segments(export, builder, merger, progress=options.progress, pool=pool), pool
        except SegmentsUnreadable:
            stack.close()  # the workers end now
    finally:
        shutil.rmtree(spool, ignore_errors=True)
    writer.restart()
    builder = options.builder(ontology, writer)
    merger = SegmentMerger(writer, {})
    return merger, build_stream(export, ontology, builder, merger, progress=options.progress), None


def _build_documents(export: Path, ontology: Ontology, writer: ReleaseWriter,
                     options: _RowOptions) -> tuple[SegmentMerger, BuildOutcome]:
    """Validate and build document JSONL in this process, from one reading."""
    merger = SegmentMerger(writer, {})
    return merger, build_stream(export, ontology, options.builder(ontology, writer), merger, progress=options.progress)


@dataclass(frozen=True)
class _RowOptions:
    """How the rows are built: the tokenizer's segmentation, ``--gold`` documents, worker processes, progress."""

    segmentation: str
    views: tuple[ViewSpec, ...]
    gold: dict[str, Document]
    workers: int | None
    progress: Progress | None
    pseudonym_key: bytes = field(repr=False)  # loaded once here; the worker processes inherit it
    near_duplicates: bool = True

    def builder(self, ontology: Ontology, writer: ReleaseWriter) -> SegmentBuilder:
        return SegmentBuilder(ontology, writer.plan, writer.schemas, file=writer.file,
                              segmentation=self.segmentation, views=self.views,
                              gold=self.gold, pseudonym_key=self.pseudonym_key,
                              near_duplicates=self.near_duplicates)


BUILDING_SUFFIX = ".building"
EARLIER_SPLITS = ".earlier-splits.sqlite"  # in the building folder: a killed build's is removed with it


def _building_folder(out: Path) -> tuple[Path, FileLock]:
    """A new hidden folder ``.NAME.XXXXXXXX.building`` beside ``out`` (permissions from the umask, like every
    folder the toolkit makes) and the held lock that marks it alive."""
    try:
        folder, _, lock = claim_temporary(out, lambda path: path.mkdir(mode=0o777), suffix=BUILDING_SUFFIX)
    except PermissionError:
        raise OutputError(f"cannot create files in {out.parent} (is it writable?)") from None
    except FileExistsError:
        raise OutputError(f"cannot create a build folder beside {out}") from None
    return folder, lock


def _rename_into_place(folder: Path, out: Path) -> None:
    """The built folder becomes ``out`` in one rename, unless something appeared at ``out`` meanwhile (another
    build of it, a folder made by hand): a release folder is never overwritten, even an empty one."""
    try:
        rename_no_replace(folder, out)
    except FileExistsError:
        raise OutputError(f"{out} appeared while the release was being built; it is left as it is (build again with"
                          " another --out)") from None
    except OSError as exc:
        raise OutputError(f"cannot rename the built release to {out}: {exc.strerror or exc}") from exc


def remove_killed_builds(out: Path) -> list[Path]:
    """Remove what builds of ``out`` that were killed left beside it (a running build holds its folder's lock,
    so its folder stays).  Returns the folders removed."""
    try:
        return remove_dead_temporaries(out, suffix=BUILDING_SUFFIX)
    except OSError as exc:
        reason = exc.strerror or exc
        raise OutputError(f"cannot remove {exc.filename}, left by a build that was killed: {reason}") from exc


@store_failures("the build")
def build_release(
    export: Path,
    *,
    version: str,
    out: Path,
    ontology: Ontology | None = None,
    name: str | None = None,
    splits: Path | None = None,
    gold: Path | None = None,
    previous: Path | None = None,
    progress: Progress | None = None,
    ratios: tuple[tuple[str, float], ...] | None = None,
    segmentation: str = DEFAULT_SEGMENTATION,
    views: Sequence[str | ViewSpec] = (),
    license: str = DEFAULT_LICENSE,
    rights: str = DEFAULT_RIGHTS,
    date: str | None = None,
    row_group_rows: int = ROW_GROUP_ROWS,
    max_shard_bytes: int = MAX_SHARD_BYTES,
    workers: int | None = None,
    min_agreement: float | None = None,
    pseudonym_key: Path | None = None,
    near_duplicates: bool = True,
    warnings_per_code: int = WARNINGS_PER_CODE,
) -> BuildResult:
    """Validate ``export`` and write the release folder ``out`` (which must not exist).

    A Label Studio export is validated and built in segments by ``workers`` processes (default: one per core,
    see :mod:`corpus_tools.build.workers`; 0 or 1: in this process).  Document JSONL is built in this process.
    Every way gives the same files and report.  ``views`` (``NAME=step,step``), with those the ontology declares,
    add the configs ``documents-NAME`` and ``tokens-NAME``: the documents on that normalised view
    (:mod:`corpus_tools.views`) and their tokens.  ``min_agreement``: a warning names each label whose pairwise
    exact-match span F1 between annotators (:mod:`corpus_tools.teams.agreement`) is below it.
    Annotators are named by pseudonyms keyed with the key file
    ``pseudonym_key`` (default: the maintainer's, see :func:`~corpus_tools.teams.pseudonyms.load_or_create_key`,
    made on first use); the manifest records its :func:`~corpus_tools.teams.pseudonyms.key_id`, never the key.
    ``near_duplicates``: the leakage audit also warns of nearly equal texts in different splits (MinHash of
    word 3-grams, :class:`~corpus_tools.build.writer.NearDuplicates`).  ``warnings_per_code``: the report keeps
    that many warnings of each code (0: every one), and counts the others (:class:`~corpus_tools.report.Report`).

    Raises :class:`InvalidDataError` (with the report) when the export or the gold file fails
    validation or the data has build errors (duplicate ids, duplicate texts across splits),
    :class:`ReleaseError` when the written release fails :func:`check_release`,
    :class:`OutputError` when ``out`` exists, and :class:`InputError` for unreadable inputs.
    """
    export, out = Path(export), Path(out)
    version = _checked_version(version)
    try:
        check_segmentation(segmentation)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    ontology = ontology or load_ontology()
    all_views = release_views(ontology, views)
    if out.exists() or out.is_symlink():
        raise OutputError(f"{out} already exists; a release folder is never overwritten (choose another --out)")
    kind = input_format(export)
    if kind == "other":  # not JSON, a BOM, a top-level scalar...: validation says what and where
        report = _validate(export, ontology, None)
        if not report.valid:
            raise _refusal(export, report)
        raise InputError(f"{export} is neither a Label Studio JSON export (an array) nor document JSONL")
    card = _checked_card_text(out, name=name, license=license, rights=rights, date=date)
    previous_manifest, splits = _previous_release(previous, out, version, splits)
    if ratios is not None and splits is not None:
        raise InputError(f"split ratios are fixed by the earlier {splits}; --ratios applies to a first release only")

    key = load_or_create_key(Path(pseudonym_key) if pseudonym_key is not None else None)
    options = _RowOptions(segmentation=segmentation, views=all_views, gold=_gold_documents(gold, ontology, progress),
                          workers=workers, progress=progress, pseudonym_key=key,
                          near_duplicates=near_duplicates)
    removed, tmp, lock = _new_building_folder(out)
    writer: ReleaseWriter | None = None
    stack = ExitStack()  # the worker pool
    try:
        # an earlier splits.json's assignments: in a file of the building folder, which the workers read
        plan = (read_splits(splits, tmp / EARLIER_SPLITS) if splits is not None
                else SplitPlan(ratios=ratios or SplitPlan().ratios))
        writer = ReleaseWriter(tmp, ontology, plan, Report(warnings_per_code=warnings_per_code),
                               row_group_rows=row_group_rows,
                               max_shard_bytes=max_shard_bytes, file_name=str(export),
                               view_names=[view.name for view in all_views], near_duplicates=near_duplicates)
        if kind == "labelstudio":
            merger, outcome, pool = _build_export(export, ontology, writer, options, stack)
        else:
            (merger, outcome), pool = _build_documents(export, ontology, writer, options), None
        (tmp / EARLIER_SPLITS).unlink(missing_ok=True)  # every document has its split (the writer's copy)
        report = _build_report(export, writer, merger, outcome, options)
        if min_agreement is not None:
            _agreement_warnings(report, writer.stats, min_agreement, str(export))
        _empty_split_warnings(report, writer.plan, writer.stats, str(export))
        layout = writer.close()
        writer.write_splits(tmp / SPLITS_NAME)
        writer.close_ledger()
        manifest = _write_card_and_manifest(
            tmp, writer, layout, report, card, ontology=ontology, version=version, segmentation=segmentation,
            views=all_views, input_sha256=outcome.input_sha256, previous=previous, previous_manifest=previous_manifest,
            pseudonym_key_id=key_id(key),
        )
        _check_built(tmp, out, ontology, report, writer.stats, pool, progress)
        _rename_into_place(tmp, out)
    except BaseException:
        if writer is not None:
            writer.abort()
        stack.close()
        shutil.rmtree(tmp, ignore_errors=True)
        unlock_temporary(lock)
        raise
    unlock_temporary(lock)
    stack.close()
    return BuildResult(out=out, version=version, manifest=manifest, report=report, stats=writer.stats,
                       removed=removed)


def _checked_version(version: str) -> str:
    try:
        parse_release_version(version)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    return version.strip().removeprefix("v")


@dataclass(frozen=True)
class _CardText:
    """The checked one-line texts of the card and the changelog's date."""

    name: str
    license: str
    rights: str
    date: str | None
    defaults: tuple[str, ...] = ()  # card keys filled with a default (no --name, licence unknown)


def _checked_card_text(out: Path, *, name: str | None, license: str, rights: str, date: str | None) -> _CardText:
    try:
        license = check_line(license, "licence id")
        return _CardText(
            name=check_name(name) if name is not None else default_name(out),
            license=license,
            rights=check_line(rights, "rights statement"),
            date=check_date(date) if date is not None else None,
            defaults=(*(("license",) if license == DEFAULT_LICENSE else ()),
                      *(("pretty_name",) if name is None else ())),
        )
    except ValueError as exc:
        raise InputError(str(exc)) from exc


def _previous_release(previous: Path | None, out: Path, version: str,
                      splits: Path | None) -> tuple[dict | None, Path | None]:
    """The previous release's manifest (None without one) and the splits file to follow (its own by default)."""
    if previous is None:
        return None, splits
    previous = Path(previous)
    if not previous.is_dir():
        raise InputError(f"the previous release {previous} is not a folder"
                         + ("" if previous.exists() else " (it does not exist)"))
    if out.resolve().is_relative_to(previous.resolve()):
        raise OutputError(f"{out} is inside the previous release {previous}, which would no longer pass its"
                          " checks; choose an --out outside it")
    manifest = read_manifest(previous)
    if parse_release_version(str(manifest.get("version", "0.0.0"))) >= parse_release_version(version):
        raise InputError(f"version {version} is not above the previous release's {manifest.get('version')}")
    if splits is None:
        splits = previous / SPLITS_NAME
        if not splits.is_file():  # the default ratios would move documents between splits
            raise ReleaseError(f"the previous release {previous} has no {SPLITS_NAME}, so its documents' splits"
                               " are unknown; a document never moves between splits: restore the file or pass"
                               " --splits FILE")
    return manifest, splits


def _gold_documents(gold: Path | None, ontology: Ontology, progress: Progress | None) -> dict[str, Document]:
    """The validated ``--gold`` documents by id (none without a gold file)."""
    if gold is None:
        return {}
    gold = Path(gold)
    if input_format(gold) == "labelstudio":
        raise InputError(f"gold file {gold} is a JSON array (a Label Studio export?); --gold takes canonical"
                         " document JSONL, one adjudicated document per line")
    gold_report = _validate(gold, ontology, progress)
    if not gold_report.valid:
        raise InvalidDataError(
            f"gold file {gold} failed validation with {gold_report.errors_found} errors", gold_report
        )
    return read_gold(gold)


def _new_building_folder(out: Path) -> tuple[list[Path], Path, FileLock]:
    """Remove what killed builds of ``out`` left, then make this build's folder; returns both and its lock."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        removed = remove_killed_builds(out)
        tmp, lock = _building_folder(out)
    except OSError as exc:  # the parent is a file, a read-only file system...
        file = next((p for p in (out.parent, *out.parent.parents) if p.exists() and not p.is_dir()), None)
        reason = f"{file} is a file, not a folder" if file is not None else exc.strerror or exc
        raise OutputError(f"cannot create the release folder {out}: {reason}") from exc
    return removed, tmp, lock


def _build_report(export: Path, writer: ReleaseWriter, merger: SegmentMerger, outcome: BuildOutcome,
                  options: _RowOptions) -> Report:
    """The validation report, refused when invalid, then the build's problems, refused when there are errors."""
    report = outcome.validation
    report.stats = {"validation": dict(report.stats)} if report.stats else {}
    report.stats["workers"] = outcome.workers
    if not report.valid:
        raise _refusal(export, report)
    for doc_id in sorted(set(options.gold) - merger.gold_used):
        writer.problem(*unused_gold(doc_id))
    report.merge(writer.report)
    if writer.stats.documents == 0:
        report.add(make_problem(NO_DOCUMENTS, "No task has a gold annotation; nothing to release.",
                                file=str(export)))
    if not report.valid:
        raise InvalidDataError(f"{export}: the build found {report.errors_found} errors", report)
    return report


def _empty_split_warnings(report: Report, plan: SplitPlan, stats: ReleaseStats, file: str) -> None:
    """A ``build-split-empty`` warning for each split whose ratio is above 0 and that got no document."""
    documents = stats.documents
    for name, ratio in plan.ratios:
        split = stats.splits.get(name)
        if ratio <= 0 or (split is not None and split.documents):
            continue
        report.add(make_problem(
            SPLIT_EMPTY, f"Split {name!r} (ratio {ratio:g}) got none of the {documents} documents, so the release"
            f" has no {name} split; add documents, or give a first release other --ratios ({name}=0 leaves it out"
            " on purpose).", file=file, details={"split": name, "ratio": ratio, "documents": documents}))


def _agreement_warnings(report: Report, stats: ReleaseStats, threshold: float, file: str) -> None:
    """A ``build-low-agreement`` warning for each label whose exact-match span F1 is below ``threshold``."""
    agreement = stats.agreement
    if not isinstance(agreement, AgreementReport):
        return
    for label, f1 in agreement.labels_below(threshold):
        report.add(make_problem(
            LOW_AGREEMENT, f"Label {label!r}: span F1 (exact) between annotators is {f1:.3f}, below"
            f" --min-agreement {threshold:g} ({agreement.compared_tasks} tasks with two annotators or more).",
            file=file, details={"label": label, "f1": f1}))


def _write_card_and_manifest(tmp: Path, writer: ReleaseWriter, layout: dict, report: Report, card: _CardText, *,
                             ontology: Ontology, version: str, segmentation: str, views: tuple[ViewSpec, ...],
                             input_sha256: str, previous: Path | None, previous_manifest: dict | None,
                             pseudonym_key_id: str) -> dict:
    """The card (with the changelog against the previous release) and the manifest; returns the manifest."""
    stats = writer.stats
    changelog = _changelog(tmp, layout, report, ontology=ontology, version=version, date=card.date, stats=stats,
                           previous=previous, previous_manifest=previous_manifest, file=writer.file,
                           segmentation=segmentation)
    metadata = card_metadata(
        name=card.name, features=writer.features, layout=layout, license=card.license, documents=stats.documents
    )
    body = render_body(
        name=card.name, version=version, ontology=ontology, layout=layout, stats=stats, plan=writer.plan,
        segmentation=segmentation, views=views, license=card.license, rights=card.rights, changelog=changelog,
        input_sha256=input_sha256, tool_version=__version__,
    )
    (tmp / "README.md").write_text(render_card(metadata, body), encoding="utf-8")
    return write_manifest(
        tmp,
        {
            "name": card.name,
            "version": version,
            "ontology": {"name": ontology.name, "version": ontology.version, "sha256": ontology.source_sha256},
            "input_sha256": input_sha256,
            "tool_version": __version__,
            "pseudonym_key_id": pseudonym_key_id,
            "card_defaults": list(card.defaults),
            "tokenizer": tokenizer_settings(segmentation),
            **({"views": {view.name: list(view.steps) for view in views}} if views else {}),
            "configs": {
                config: {
                    split: {"num_examples": lay.num_examples, "files": lay.files}
                    for split, lay in splits_.items()
                    if lay.num_examples
                }
                for config, splits_ in layout.items()
                if any(lay.num_examples for lay in splits_.values())
            },
        },
    )


def _changelog(tmp: Path, layout: dict, report: Report, *, ontology: Ontology, version: str, date: str | None,
               stats: ReleaseStats, previous: Path | None, previous_manifest: dict | None, file: str,
               segmentation: str) -> str:
    """This version's changelog entry, with what changed since the previous release, above the earlier entries."""
    diff = None
    changelog_earlier = ""
    if previous is not None:
        from corpus_tools.release.diff import diff_loaded, load_documents

        documents = {split: lay.files for split, lay in layout.get("documents", {}).items()}
        old, new = load_documents(previous), load_documents(tmp, version=version, files=documents,
                                                             tokenizer=tokenizer_settings(segmentation))
        try:
            diff = diff_loaded(old, new)
        finally:
            old.docs.close()
            new.docs.close()
        readme = previous / "README.md"
        if readme.is_file():
            changelog_earlier = extract_changelog(readme.read_text(encoding="utf-8"))
    notes: tuple[str, ...] = ()
    if diff is not None and previous_manifest is not None:
        notes = _ontology_change(previous_manifest, ontology, diff, version, report, file)
        _tokens_change(previous_manifest, diff, version, report, file)
    changelog = changelog_entry(version, date=date, diff=diff, stats=stats, notes=notes)
    if changelog_earlier:
        changelog += "\n" + changelog_earlier + "\n"
    return changelog


def _check_built(tmp: Path, out: Path, ontology: Ontology, report: Report, stats: ReleaseStats,
                 pool: WorkerPool | None, progress: Progress | None) -> None:
    """The pre-publish checks of the written release (their file scans in the build's workers, if any)."""
    if progress is not None:
        progress("check", 0, None)
    _release_freed_memory()
    try:
        checks = check_release(tmp, ontology=ontology, executor=pool.executor if pool is not None else None)
    except BrokenProcessPool as exc:
        raise pool.died(exc) from exc  # type: ignore[union-attr]
    report.merge(checks)
    report.stats.update({"release": stats.to_dict(), "checks": checks.stats})
    if not checks.valid:
        raise ReleaseError(
            f"the built release failed {checks.error_count} pre-publish checks; nothing was written to {out}",
            report,
        )


__all__ = ["BuildResult", "build_release", "remove_killed_builds", "select_gold",
           "MANIFEST_NAME"]
