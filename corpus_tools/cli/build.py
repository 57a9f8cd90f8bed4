"""``corpus-tools build``, ``check-release`` and ``diff``: thin layers over build, release and diff."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer

from corpus_tools.cli._common import (
    EXIT_INVALID,
    EXIT_OK,
    DataTable,
    JsonOption,
    OntologyOption,
    QuietOption,
    WarningsPerCodeOption,
    echo_data,
    echo_json,
    echo_tables,
    err_console,
    info,
    render_report,
)
from corpus_tools.errors import InvalidDataError, ReleaseError
from corpus_tools.publish.targets import is_hub_text
from corpus_tools.report import WARNINGS_PER_CODE

_PROGRESS_MIN_BYTES = 8 * 1024 * 1024

ReleaseDirArgument = Annotated[
    Path, typer.Argument(help="A release folder written by `corpus-tools build`.", file_okay=False,
                         metavar="RELEASE_DIR")
]


def _progress(total: int, quiet: bool):
    """A rich progress bar on stderr (validate, build, check phases) for large inputs, or None."""
    if quiet or total < _PROGRESS_MIN_BYTES:
        return None
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description:<9}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                    console=err_console, transient=True)


def _check_version(value: str) -> str:
    from corpus_tools.release.version import parse_release_version

    try:
        parse_release_version(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    return value


def _checked(check: Callable[[str], str]) -> Callable[[str | None], str | None]:
    """A typer callback: ``check`` on a given value, its ValueError as a usage error (exit 2)."""

    def callback(value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return check(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc

    return callback


def _check_name(value: str) -> str:
    from corpus_tools.build.driver import check_name

    return check_name(value)


def _check_license(value: str) -> str:
    from corpus_tools.build.driver import check_line

    return check_line(value, "licence id")


def _check_segmentation(value: str) -> str:
    from corpus_tools.spans import check_segmentation

    return check_segmentation(value)


def _check_views(values: list[str] | None) -> list[str] | None:
    from corpus_tools.views import ViewError, parse_view

    for value in values or ():
        try:
            parse_view(value)
        except ViewError as exc:
            raise typer.BadParameter(str(exc)) from exc
    return values


def _check_rights(value: str) -> str:
    from corpus_tools.build.driver import check_line

    return check_line(value, "rights statement")


def _check_date(value: str) -> str:
    from corpus_tools.build.driver import check_date

    return check_date(value)


def build_command(
    export: Annotated[Path, typer.Argument(help="Label Studio JSON export (array of tasks) or canonical document"
                                           " JSONL.", dir_okay=False, readable=False, metavar="EXPORT")],
    version: Annotated[str, typer.Option("--version", help="Release version MAJOR.MINOR.PATCH (e.g. 1.0.0).",
                                         callback=_check_version)],
    out: Annotated[Path, typer.Option("--out", help="Release folder to create; it must not exist.", readable=False)],
    name: Annotated[str | None, typer.Option(
        "--name", help="Dataset name for the card and manifest, e.g. ORG/NAME (default: the --out folder name).",
        callback=_checked(_check_name))]
        = None,
    splits: Annotated[Path | None, typer.Option(
        "--splits", help="An earlier splits.json: its assignments are kept, only new documents are assigned"
        " (default: PREVIOUS/splits.json with --previous).", dir_okay=False, readable=False)] = None,
    gold: Annotated[Path | None, typer.Option(
        "--gold", help="Adjudicated gold documents (canonical document JSONL); they win over the export's"
        " annotations for their ids.", dir_okay=False, readable=False)] = None,
    previous: Annotated[Path | None, typer.Option(
        "--previous", help="The previous release folder: the card's changelog is the diff against it.",
        file_okay=False)] = None,
    ratios: Annotated[str | None, typer.Option(
        "--ratios", help="Split ratios for a first release, e.g. train=80,validation=10,test=10 (the default):"
                         " percentages that sum to 100, or fractions that sum to 1."
    )] = None,
    segmentation: Annotated[str, typer.Option(
        "--segmentation", help="How the tokens config cuts words, from the text alone: none (clitics attached,"
        " as in ANERcorp/Wojood) or proclitic-article (و|الرياض, ب|العراق, ل|لجامعة; see docs/releases.md). A"
        " span whose edge falls inside a token tags the whole token.", callback=_checked(_check_segmentation))]
        = "none",
    views: Annotated[list[str] | None, typer.Option(
        "--view", help="A normalised view NAME=step,step (repeatable): adds configs documents-NAME and tokens-NAME"
        " (normalised text, entities and relations projected onto it, its tokens). Steps: ligatures, bidi,"
        " tatweel, diacritics, alef, alef-maqsura, taa-marbuta, digits (docs/views.md). Views the ontology"
        " declares are always built.", callback=_check_views)] = None,
    license_id: Annotated[str, typer.Option("--license", help="Licence id of the annotations for the card.",
                                            callback=_checked(_check_license))]
        = "unknown",
    rights: Annotated[str | None, typer.Option(
        "--rights", help="Rights statement for the texts (default: newswire, rights not cleared).",
        callback=_checked(_check_rights))] = None,
    date: Annotated[str | None, typer.Option(
        "--date", help="Release date for the changelog, YYYY-MM-DD (no date is written otherwise, so rebuilds"
        " are byte-identical).", callback=_checked(_check_date))] = None,
    workers: Annotated[int | None, typer.Option(
        "--workers", min=0, max=256,  # max: corpus_tools.validate.segmented.MAX_WORKER_PROCESSES
        help="Processes that validate and build a Label Studio export (default: one per core; 0 or 1: in this"
        " process). The files are the same either way.")] = None,
    min_agreement: Annotated[float | None, typer.Option(
        "--min-agreement", min=0.0, max=1.0, help="Warn (build-low-agreement) for each label whose pairwise"
        " exact-match span F1 between annotators is below this (0 to 1; docs/teams.md).")] = None,
    pseudonym_key: Annotated[Path | None, typer.Option(
        "--pseudonym-key", help="The secret key file that makes annotator pseudonyms (default:"
        " $CORPUS_TOOLS_PSEUDONYM_KEY_FILE, else ~/.config/corpus-tools/pseudonym.key, made on first use). Keep"
        " it out of every release and reuse it, so annotators keep their pseudonyms (docs/teams.md).",
        dir_okay=False, readable=False)] = None,
    near_duplicates: Annotated[bool, typer.Option(
        "--near-duplicates/--no-near-duplicates", help="Warn (build-near-duplicate-across-splits) of documents in"
        " different splits with nearly the same text (MinHash of word 3-grams, estimated Jaccard similarity at"
        " least 0.8; docs/releases.md). Exact duplicates are refused either way.")] = True,
    ontology: OntologyOption = None,
    as_json: JsonOption = False,
    warnings_per_code: WarningsPerCodeOption = WARNINGS_PER_CODE,
    quiet: QuietOption = False,
) -> None:
    """Build a release folder: Parquet configs, splits.json, dataset card and manifest.

    Validates EXPORT first and refuses invalid input (no override). Picks one gold per task (the
    --gold file's document, else the annotation marked ground truth, else the only non-cancelled
    annotation, else the task is left out), assigns documents to
    splits that never change across releases, writes data/<config>/<split>-NNNNN-of-NNNNN.parquet for
    the documents, tokens, relations and annotations configs, the card and manifest.json, and runs
    check-release. Everything is written to a temporary folder renamed to --out at the end; the
    folders that killed builds of the same --out left beside it are removed first.

    Exit 0 when built, 1 when the input is invalid or the release fails its checks, 3 when it could
    not run (missing file, --out exists).
    """
    from corpus_tools.build.driver import build_release
    from corpus_tools.ontology import load_ontology
    from corpus_tools.release.card import DEFAULT_RIGHTS
    from corpus_tools.release.splits import parse_ratios

    parsed_ratios = None
    if ratios is not None:
        try:
            parsed_ratios = parse_ratios(ratios)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--ratios") from exc
    loaded = load_ontology(ontology)
    total = export.stat().st_size if export.is_file() else 0
    with ExitStack() as stack:
        bar = _progress(total, quiet)
        callback = None
        if bar is not None:
            stack.enter_context(bar)
            tasks: dict[str, int] = {}

            def callback(stage: str, done: int, of: int | None) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=of)
                bar.update(tasks[stage], completed=done)

        try:
            result = build_release(
                export, version=version, out=out, ontology=loaded, name=name, splits=splits, gold=gold,
                previous=previous, progress=callback, ratios=parsed_ratios, segmentation=segmentation,
                views=views or (),
                license=license_id, rights=rights or DEFAULT_RIGHTS, date=date, workers=workers,
                min_agreement=min_agreement,
                pseudonym_key=pseudonym_key,
                near_duplicates=near_duplicates,
                warnings_per_code=warnings_per_code,
            )
        except (InvalidDataError, ReleaseError) as exc:
            if exc.report is None:
                raise
            stack.close()
            render_report(exc.report, as_json=as_json, quiet=quiet, title="Build problems",
                          warnings_option=True)
            info(f"Error: {exc}")
            raise typer.Exit(EXIT_INVALID) from exc
    render_report(result.report, as_json=as_json, quiet=quiet, title="Build problems",
                  warnings_option=True)
    for folder in result.removed:
        info(f"Removed {folder}, left by a build of {result.out} that was killed.", quiet=quiet)
    stats = result.stats
    counts = ", ".join(f"{s}: {c.documents}" for s, c in stats.splits.items() if c.documents)
    info(f"Built {result.out} (v{result.version}): {stats.documents} documents ({counts}).", quiet=quiet)
    raise typer.Exit(EXIT_OK)


def check_release_command(
    release_dir: ReleaseDirArgument,
    ontology: OntologyOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Run the pre-publish checks on a release folder.

    Checks that every file matches its sha256 and size in manifest.json and nothing is unlisted; the
    card's YAML parses with datasets' parsers, documents is the default config, every data_files
    pattern matches at least one file and no file twice; every Parquet schema and the README features
    equal the ontology's Features; row counts equal num_examples; ClassLabel ids are in range;
    text[start:end] equals each entity's text; relation heads and tails exist; each tokens row is its
    documents row (same id, tokens equal to the text at their offsets, BIO tags that decode to the
    entities) and each relations row the relation it stands for; documents sit in their splits.json
    split and no text is in two splits.

    Exit 0 when every check passes, 1 otherwise, 3 when the folder is missing.
    """
    from corpus_tools.ontology import load_ontology
    from corpus_tools.release.checks import check_release

    report = check_release(release_dir, ontology=load_ontology(ontology))
    raise typer.Exit(render_report(report, as_json=as_json, quiet=quiet, title="Release problems"))


DIFF_TABLE_LIMIT = 20  # documents whose changed spans and relations `diff` lists in its table


def diff_command(
    old: Annotated[str, typer.Argument(help="The older release: a folder, or a published version such as"
                                       " ./releases/NAME@v1.0.0 or hf://datasets/ORG/NAME@v1.0.0.", metavar="OLD")],
    new: Annotated[str, typer.Argument(help="The newer release, in the same forms.", metavar="NEW")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the diff as JSON on stdout.")] = False,
    limit: Annotated[int | None, typer.Option(
        "--limit", min=0, metavar="N", help="List the changed spans and relations of at most N documents with changed"
        " annotations, and where the text first differs for at most N documents whose text changed (the first by"
        " id; 0: none). Default: 20 in the table, all with --json.")] = None,
) -> None:
    """Show what changed between two releases.

    Documents added, removed, with changed text or changed annotations, moved between splits; entity
    spans and relations added, removed and relabelled (matched by offsets); per-label and per-split
    counts; a change of the tokens config's tokenizer (a MAJOR change). For each document with changed
    annotations (up to --limit), the spans and relations added, removed and relabelled: offsets, text,
    old and new label. For each document whose text changed under the same id: its old and new text
    sha256 and (up to --limit) where the texts first differ. A table on stdout, or JSON with --json.
    Exit 0 whenever it ran, whether or not the releases differ; 1 when a folder is not a release or one
    of its files is damaged; 3 when a release cannot be read.
    """

    from corpus_tools.release.diff import diff_releases

    detail = limit if limit is not None or as_json else DIFF_TABLE_LIMIT
    with ExitStack() as stack:
        folders = [stack.enter_context(_materialised(x)) for x in (old, new)]
        diff = diff_releases(*folders, detail=detail)
    if as_json:
        echo_json(diff.to_dict())
        raise typer.Exit(EXIT_OK)
    table = DataTable(title=f"v{diff.old_version} → v{diff.new_version}")
    for column, justify in (("", "left"), ("old", "right"), ("new", "right"), ("change", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in diff.table_rows():
        table.add_row(*row)
    tables = [table]
    if rows := diff.change_rows():
        changes = DataTable(title="Changed annotations")
        for i, column in enumerate(("document", "", "change", "offsets", "text", "old label", "new label")):
            # Never elided (a label cut short is another label); ids, offsets and labels never folded across lines
            # either (they are copied into other commands): only the text column folds when space is short.
            whole = 0 if column == "text" else max(len(column), *(len(row[i]) for row in rows))
            changes.add_column(column, overflow="fold", min_width=whole or None)
        for row in rows:
            changes.add_row(*row)
        tables.append(changes)
    if text_rows := diff.text_change_rows():
        texts = DataTable(title="Text changed")
        for column in ("document", "split", "old sha256", "new sha256", "first difference at", "old → new there"):
            texts.add_column(column, overflow="fold")
        for row in text_rows:
            texts.add_row(*row)
        tables.append(texts)
    echo_tables(*tables)
    if left_off := len(diff.documents_annotation_changed) - len(diff.document_changes):
        echo_data(f"{left_off} more {'document' if left_off == 1 else 'documents'} with changed annotations"
                  " (--limit N lists more).")
    if not diff.changed:
        echo_data("No differences.")
    raise typer.Exit(EXIT_OK)


def _materialised(value: str):
    """A release folder for a folder path, or a published version through corpus_tools.publish."""
    from contextlib import nullcontext

    path = Path(value)
    if path.is_dir() and not is_hub_text(value):  # an existing folder first, even with @ in its name
        return nullcontext(path)
    try:
        from corpus_tools.publish import materialised
    except ImportError:
        return nullcontext(path)
    return materialised(value)


def register(app: typer.Typer) -> None:
    """Add ``build``, ``check-release`` and ``diff`` to the app."""
    app.command("build")(build_command)
    app.command("check-release")(check_release_command)
    app.command("diff")(diff_command)
