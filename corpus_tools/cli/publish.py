"""``corpus-tools publish RELEASE_DIR --to TARGET`` and ``corpus-tools releases TARGET``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from corpus_tools.cli._common import (
    EXIT_OK,
    DataTable,
    OntologyOption,
    QuietOption,
    echo_data,
    echo_json,
    echo_tables,
    err_console,
    info,
    render_report,
)
from corpus_tools.errors import CorpusToolsError, PublishUnverified, ReleaseError, VerificationFailed
from corpus_tools.publish.models import PublishPlan, PublishResult
from corpus_tools.publish.targets import is_hub_text
from corpus_tools.text import printable


def _target(value: str | None) -> str | None:
    if value is None:
        return None
    from corpus_tools.publish import parse_target

    try:
        target = parse_target(value)
    except CorpusToolsError as exc:
        raise typer.BadParameter(str(exc)) from exc
    return str(target) if target.is_hub else value


TargetOption = Annotated[
    str | None,
    typer.Option("--to", metavar="TARGET", callback=_target,
                 help="./releases/NAME (a local folder of versions, the default with NAME from the manifest) or "
                 "hf://datasets/ORG/NAME (a Hugging Face Hub dataset repository)."),
]


def _default_target(release_dir: Path) -> str:
    try:
        name = json.loads((release_dir / "manifest.json").read_text(encoding="utf-8")).get("name")
    except (OSError, ValueError, AttributeError):
        name = None
    # a Hub-style name "ORG/NAME" gives ./releases/NAME (never "." or "..", nor a NUL byte, which no folder name
    # holds: the folder's own name then)
    last = str(name).rsplit("/", 1)[-1].strip() if isinstance(name, str) else ""
    usable = last not in ("", ".", "..") and "\0" not in last
    return str(Path("releases") / (last if usable else release_dir.resolve().name))


def _render_plan(plan: PublishPlan, *, dry_run: bool, quiet: bool) -> None:
    """The plan, each file once: a local publish's progress has named every file as it was copied, so its
    summary counts them; a dry run and a Hub publish (whose progress counts files) list them here."""
    head = "Plan: publish" if dry_run else "Published"
    info(f"{head} {plan.name} {plan.version} to {plan.target}:", quiet=quiet)
    if plan.create_repo:
        info("  create repository", quiet=quiet)
    if plan.resume:
        info(f"  main already holds this release (commit {str(plan.parent_commit)[:12]}); only the tag is missing",
             quiet=quiet)
    copied_above = plan.kind == "local" and not dry_run
    for action, paths in (("add", plan.added), ("replace", plan.replaced), ("delete", plan.deleted)):
        if copied_above and paths:
            info(f"  {action:<8}{len(paths)} files (each named above as it was copied)", quiet=quiet)
            continue
        for path in paths:
            info(f"  {action:<8}{path}", quiet=quiet)
    if plan.unchanged:
        info(f"  ({len(plan.unchanged)} unchanged files)", quiet=quiet)
    if plan.card_kept:
        info(f"  card metadata kept from the repository: {', '.join(plan.card_kept)}", quiet=quiet)
    if plan.card_kept_sections:
        info(f"  card sections kept from the repository: {', '.join(plan.card_kept_sections)}", quiet=quiet)
    info(f"  {'tag' if plan.kind == 'hub' else 'folder'}    {plan.version}", quiet=quiet)


def publish_command(
    release_dir: Annotated[Path, typer.Argument(metavar="RELEASE_DIR", file_okay=False,
                                                help="A release folder written by `corpus-tools build`.")],
    to: TargetOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan and change nothing.")] = False,
    private: Annotated[bool, typer.Option("--private", help="Create the Hub repository as private.")] = False,
    ontology: OntologyOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result (or the failed check's report) as JSON"
                                          " on stdout.")] = False,
    quiet: QuietOption = False,
) -> None:
    """Publish a release folder as an immutable version vX.Y.Z (the version comes from its manifest).

    check-release runs first and must pass. A local target gets a read-only NAME/vX.Y.Z folder (written
    to a temp folder and renamed) and NAME/index.json. A Hub target gets ONE commit with every file and
    the deletion of files the release no longer has, guarded by the head it was planned on, then the tag
    vX.Y.Z; the card's metadata is merged with the repository's. Versions must be semver and increase; an
    existing version is refused. After publishing, every file is read back (the Hub revision freshly
    downloaded) and its sha256 compared with the manifest. The Hub token comes from HF_TOKEN or `hf auth
    login` and is never printed. --json prints the result (or the failed check's report) on stdout.
    Exit 0 published (or planned; a warning says when the local index.json could not be updated), 1 the
    release failed its checks, 3 refused or failed: nothing was published, unless the error says the
    version IS published (the Hub tag exists but could not be read back and checked).
    """
    from corpus_tools.ontology import load_ontology
    from corpus_tools.publish import publish_release

    target = to or _default_target(release_dir)
    onto = load_ontology(ontology) if ontology else None
    if (quiet or as_json) and is_hub_text(str(target)):
        from huggingface_hub.utils import logging as hub_logging

        hub_logging.set_verbosity_error()  # -q silences huggingface_hub's own retry warnings too
    try:
        result = publish_release(release_dir, target, dry_run=dry_run, private=private, ontology=onto,
                                 progress=None if (quiet or as_json) else lambda m: info(f"  … {m}"))
    except (ReleaseError, VerificationFailed, PublishUnverified) as exc:
        if exc.report is not None:
            render_report(exc.report, as_json=as_json, quiet=quiet, title="Release problems")
        raise
    for warning in result.warnings:  # published, but something after the publish was not done: always shown
        info(f"Warning: {warning}")
    if as_json:
        echo_json(result.to_dict())
        raise typer.Exit(EXIT_OK)
    _render_plan(result.plan, dry_run=dry_run, quiet=quiet)
    _render_result(result, quiet=quiet)
    if not result.dry_run:  # stdout holds a load line only for a version that is there to load
        echo_data(result.load_line)


def _render_result(result: PublishResult, *, quiet: bool) -> None:
    if result.dry_run:
        info("Dry run: nothing was changed.", quiet=quiet)
        info(f"Not published (dry run). Once published, it loads with: {result.load_line}", quiet=quiet)
        return
    checked = result.verification.stats.get("files") if result.verification else 0
    where = f"{result.location} (commit {result.commit[:12]})" if result.commit else result.location
    info(f"Published {result.plan.version} at {where}; {checked} files read back and verified by sha256.",
         quiet=quiet)
    info("Load it with:", quiet=quiet)


def releases_command(
    target: Annotated[str, typer.Argument(metavar="TARGET", callback=_target,
                                          help="./releases/NAME or hf://datasets/ORG/NAME.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the versions as JSON on stdout.")] = False,
) -> None:
    """List the versions published in TARGET with their dates and example counts.

    A local target is read from NAME/index.json (and its version folders); a Hub target from its semver
    tags and each tag's manifest.json. A version whose manifest.json is missing or unreadable is listed
    with its counts unknown and a note saying why. --json prints {"target", "versions": [...]} on stdout.
    """
    from corpus_tools.publish import list_releases

    versions = list_releases(target)
    if as_json:
        echo_json({"target": target, "versions": [v.to_dict() for v in versions]})
        return

    if not versions:
        err_console.print(printable(f"No versions published in {target}."), markup=False)
        return
    table = DataTable(title=f"Versions in {target}")
    notes = any(v.note for v in versions)
    for column in ("version", "date", "counts", "manifest sha256", *(("note",) if notes else ())):
        table.add_column(column)
    for v in versions:
        counts = "; ".join(f"{cfg}: " + ", ".join(f"{s} {n}" for s, n in splits.items())
                           for cfg, splits in v.counts.items())
        table.add_row(v.version, v.date or "?", counts or ("?" if v.note else "-"), (v.manifest_sha256 or "-")[:12],
                      *((v.note or "",) if notes else ()))
    echo_tables(table)


def register(app: typer.Typer) -> None:
    """Add ``publish`` and ``releases`` to the app."""
    app.command("publish")(publish_command)
    app.command("releases")(releases_command)
