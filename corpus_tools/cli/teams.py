"""``corpus-tools agree``: a thin layer over :func:`corpus_tools.teams.agreement.agree_export`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from corpus_tools.cli._common import (
    EXIT_OK,
    JsonOption,
    OntologyOption,
    QuietOption,
    echo_data,
    echo_json,
    info,
    render_report,
)

ExportArgument = Annotated[
    Path,
    typer.Argument(help="A Label Studio JSON export (array of tasks).", dir_okay=False, readable=False,
                   metavar="EXPORT"),  # unreadable: InputError, exit 3 (Typer would say 2)
]
AnnotatorsOption = Annotated[
    str | None,
    typer.Option("--annotators", help="Compare only these annotators, comma-separated, named as the output names"
                 " them (annotator-HEX pseudonyms; annotation-ID for an annotation without completed_by)."),
]


def agree_command(
    export: ExportArgument,
    annotators: AnnotatorsOption = None,
    pseudonym_key: Annotated[Path | None, typer.Option(
        "--pseudonym-key", help="The key file of the annotator pseudonyms, as for build (default:"
        " $CORPUS_TOOLS_PSEUDONYM_KEY_FILE, else ~/.config/corpus-tools/pseudonym.key, made on first use).",
        dir_okay=False, readable=False)] = None,
    ontology: OntologyOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Agreement between the annotators of a Label Studio export.

    Per task, the latest non-cancelled annotation of each annotator (predictions are not annotators); every
    pair of annotators of a task is compared: span precision, recall and F1 per label (exact and overlap
    match), relation F1, Cohen's kappa per pair and Krippendorff's alpha on token tags, the labels of spans
    with the same offsets, and the tasks of lowest span F1 (definitions: docs/teams.md). Markdown on
    stdout, or the figures as JSON with --json. The export is validated first; its problems go to stderr.
    Annotators are named by the same keyed pseudonyms as in releases (--annotators takes those names).

    Exit 0 when it ran, 1 when the export is invalid, 3 when it cannot be read.
    """
    from functools import partial

    from corpus_tools.ontology import load_ontology
    from corpus_tools.teams.agreement import agree_export
    from corpus_tools.teams.pseudonyms import load_or_create_key, pseudonym

    keep = None
    if annotators is not None:
        keep = [name.strip() for name in annotators.split(",") if name.strip()]
        if not keep:
            raise typer.BadParameter("name at least one annotator", param_hint="--annotators")
    name_of = partial(pseudonym, key=load_or_create_key(pseudonym_key))
    agreement, report = agree_export(export, name_of=name_of, ontology=load_ontology(ontology),
                                     annotators=keep)
    if not report.valid:
        raise typer.Exit(render_report(report, as_json=as_json, quiet=quiet, title="Validation problems by code"))
    if as_json:
        echo_json(agreement.to_dict())
    else:
        echo_data(agreement.to_markdown())
    info(f"{agreement.compared_tasks} of {agreement.tasks} tasks have two annotators or more"
         f" ({agreement.pairs} annotator pairs).", quiet=quiet)
    raise typer.Exit(EXIT_OK)
