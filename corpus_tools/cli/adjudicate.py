"""``corpus-tools adjudicate``: one gold per task from a team's annotations, offline or in Label Studio."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from corpus_tools.cli._common import JsonOption, OntologyOption, QuietOption, echo_data, echo_json, info, render_report
from corpus_tools.cli.ls import CredentialsOption
from corpus_tools.errors import InvalidDataError


def _policy(value: str):
    from corpus_tools.teams.adjudicate import Policy

    try:
        return Policy.parse(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _conflict_lines(adjudication) -> list[str]:
    lines = []
    for decision in adjudication.conflicts:
        lines.append(f"task {decision.task_id} ({decision.article_id}): {len(decision.conflicts)} in dispute"
                     + (f"  {decision.url}" if decision.url else ""))
        for conflict in decision.conflicts:
            versions = []
            for annotator, items in conflict.annotators.items():
                if conflict.kind == "span":
                    shown = ", ".join(f"{i['label']} {i['start']}-{i['end']} {i['text']!r}" for i in items)
                else:
                    shown = ", ".join(f"{i['label']}({i['head']['text']!r} -> {i['tail']['text']!r})"
                                      for i in items)
                versions.append(f"{annotator}: {shown or '-'}")
            lines.append(f"  {conflict.kind} {conflict.start}-{conflict.end} {conflict.text!r}: "
                         + "; ".join(versions))
    return lines


def adjudicate_command(
    export: Annotated[Path | None, typer.Argument(help="A Label Studio JSON export (offline form; with --out).",
                                                  dir_okay=False, readable=False, metavar="EXPORT")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Where to write the agreed tasks' gold documents"
                                             " (canonical document JSONL, what `build --gold` takes).",
                                             dir_okay=False, readable=False)] = None,
    project: Annotated[str | None, typer.Option("--project", help="Adjudicate this Label Studio project (title or"
                                                " id) instead of an export file.")] = None,
    policy: Annotated[str, typer.Option("--policy", help="`majority` (a strict majority of the task's annotators)"
                                        " or `prefer:ANNOTATOR` (that annotator's e-mail or user id).")]
    = "majority",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="With --project: write nothing, print what would be"
                                          " written.")] = False,
    ontology: OntologyOption = None,
    credentials: CredentialsOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Adjudicate tasks annotated by several annotators into one gold each; list the conflicts.

    Offline: `adjudicate EXPORT --out gold.jsonl` writes the agreed tasks' gold documents (for
    `build --gold`). In Label Studio: `adjudicate --project NAME` saves each agreed gold as a
    ground-truth annotation by the key's user (the named adjudicator) and prints each conflict
    with its task's URL, where an expert sets the ground truth. Tasks with a ground truth are
    never touched; a second run changes nothing. The export must pass validation (else exit 1).
    """
    if (export is None) == (project is None):
        raise typer.BadParameter("give either an EXPORT file (with --out) or --project, not both")
    if export is not None and out is None:
        raise typer.BadParameter("the offline form needs --out for the gold documents")
    if project is not None and out is not None:
        raise typer.BadParameter("--out is for the offline form; with --project the gold goes into Label Studio")
    if dry_run and project is None:
        raise typer.BadParameter("--dry-run is for --project (the offline form writes only --out)")
    chosen = _policy(policy)
    from corpus_tools.ontology import load_ontology
    from corpus_tools.teams import adjudicate as adj

    onto = load_ontology(ontology)
    try:
        if export is not None:
            adjudication = adj.adjudicate_export(export, chosen, ontology=onto)
        else:
            from corpus_tools.labelstudio.client import LabelStudioClient, resolve_connection

            client = LabelStudioClient.connect(resolve_connection(credentials))
            adjudication = adj.adjudicate_project(client, client.find_project(project), chosen, ontology=onto,
                                                  dry_run=dry_run)
    except InvalidDataError as exc:
        if exc.report is None:
            raise
        render_report(exc.report, as_json=as_json, quiet=quiet, title="Adjudication refused")
        raise typer.Exit(1) from None
    if out is not None:
        written = adj.write_gold(adjudication, out)
    if as_json:
        echo_json(adjudication.to_dict())
    else:
        lines = _conflict_lines(adjudication)
        if lines:
            echo_data("\n".join(lines))
    counts = adjudication.counts()
    summary = (f"{len(adjudication.decisions)} tasks: {counts['agreed']} agreed, {counts['conflict']} in conflict,"
               f" {counts['ground-truth']} with a ground truth (untouched), {counts['unannotated']} unannotated")
    if out is not None:
        info(f"{summary}; {written} gold documents written to {out}.", quiet=quiet)
    else:
        verb = "would set" if dry_run else "set"
        info(f"{summary}; {verb} the ground truth of {len(adjudication.written)} tasks as"
             f" {adjudication.adjudicator}" + (f" ({len(adjudication.skipped)} got one meanwhile)"
                                               if adjudication.skipped else "") + ".", quiet=quiet)
