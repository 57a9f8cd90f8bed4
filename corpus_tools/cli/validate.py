"""``corpus-tools validate``: a thin layer over :func:`corpus_tools.validate.driver.validate_export`."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer

from corpus_tools.cli._common import (
    JsonOption,
    OntologyOption,
    QuietOption,
    WarningsPerCodeOption,
    err_console,
    info,
    render_report,
)
from corpus_tools.report import WARNINGS_PER_CODE

_PROGRESS_MIN_BYTES = 8 * 1024 * 1024

ExportArgument = Annotated[
    Path,
    typer.Argument(help="A Label Studio JSON export (array of tasks) or canonical document JSONL.", dir_okay=False,
                   readable=False, metavar="EXPORT"),  # unreadable: InputError, exit 3 (Typer would say 2)
]
MaxErrorsOption = Annotated[
    int | None,
    typer.Option("--max-errors", min=1, help="Stop collecting errors after N (the report says it is truncated)."),
]
RepairOption = Annotated[
    bool,
    typer.Option("--repair-utf16", help="Also write a copy whose UTF-16 span offsets are converted to code points"
                 " (needs --out)."),
]
OutOption = Annotated[
    Path | None,
    typer.Option("--out", help="Where --repair-utf16 writes the repaired copy.", dir_okay=False, readable=False),
]


def _progress_bar(total: int, quiet: bool):
    """A byte progress bar on stderr for large files, or nothing."""
    if quiet or total < _PROGRESS_MIN_BYTES:
        return nullcontext(None)
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

    return Progress("validating", BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
                    console=err_console, transient=True)


def validate_command(
    export: ExportArgument,
    ontology: OntologyOption = None,
    as_json: JsonOption = False,
    max_errors: MaxErrorsOption = None,
    warnings_per_code: WarningsPerCodeOption = WARNINGS_PER_CODE,
    repair_utf16: RepairOption = False,
    out: OutOption = None,
    quiet: QuietOption = False,
) -> None:
    """Validate a Label Studio JSON export or canonical document JSONL.

    Runs the export JSON Schema narrowed to the ontology's labels, then the semantic checks on every
    annotation and prediction: offsets against the text (code points), span edges (whitespace, bidi
    marks, mid-word), labels, the ontology's overlap policy, relations (dangling, domain and range,
    symmetric direction, duplicates), duplicate article ids; and located errors for malformed files.
    Problems are grouped by code on stderr; --json prints the report on stdout.

    With --repair-utf16 the copy is written only when the repaired data is valid (exit 0): a run that
    exits 1 or fails leaves an existing --out as it was.

    Exit 0 when valid, 1 when any error is found, 3 when the file cannot be read.
    """
    from corpus_tools.ontology import load_ontology
    from corpus_tools.validate.driver import repair_utf16_export, validate_export

    if repair_utf16 and out is None:
        raise typer.BadParameter("--repair-utf16 needs --out FIXED", param_hint="--out")
    if out is not None and not repair_utf16:
        raise typer.BadParameter("--out is only used with --repair-utf16", param_hint="--out")
    loaded = load_ontology(ontology)
    total = export.stat().st_size if export.is_file() else 0
    with _progress_bar(total, quiet) as bar:
        update = None
        if bar is not None:
            task = bar.add_task("validate", total=total)

            def update(done: int) -> None:
                bar.update(task, completed=done)

        if repair_utf16:
            report = repair_utf16_export(export, out, ontology=loaded, max_errors=max_errors, progress=update,
                                         warnings_per_code=warnings_per_code)
        else:
            report = validate_export(export, ontology=loaded, max_errors=max_errors, progress=update,
                                     warnings_per_code=warnings_per_code)
    if repair_utf16:
        written = report.stats.get("written")
        info(f"Repaired {report.stats.get('repaired_spans', 0)} span(s); "
             + (f"wrote {out}" if written else f"did not write {out} (the input is malformed or the repaired data"
                                              " has errors; an existing file is left as it was)"), quiet=quiet)
    raise typer.Exit(render_report(report, as_json=as_json, quiet=quiet, title="Validation problems by code",
                                   warnings_option=True))
