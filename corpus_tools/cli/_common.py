"""Shared CLI plumbing: stderr console, exit codes, report rendering, shared options."""

from __future__ import annotations

import errno
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from corpus_tools.errors import OutputError
from corpus_tools.report import Report
from corpus_tools.text import printable, redact

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_FAILED = 3

err_console = Console(stderr=True, highlight=False, soft_wrap=True)

OntologyOption = Annotated[
    Path | None,
    typer.Option("--ontology", help="Ontology YAML file (default: the bundled annotations/ontology.yaml).",
                 dir_okay=False, readable=False),  # an unreadable file is the command's own exit 3, not Typer's 2
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or summary on stderr.")]
WarningsPerCodeOption = Annotated[
    int,
    typer.Option("--warnings-per-code", min=0, metavar="N",
                 help="List at most N warnings of each code (0: every one); the others are counted, and the report"
                      " says how many were not listed (docs/validate.md)."),
]


@contextmanager
def stdout_writes() -> Iterator[None]:
    """Writes to stdout, flushed at the end, so that a stdout that cannot take them (a full disk) is an OutputError
    here rather than a traceback or an error at exit; a closed pipe (``| head``) is left to click, which exits
    quietly."""
    try:
        yield
        sys.stdout.flush()
    except OSError as exc:
        if exc.errno == errno.EPIPE:
            raise
        raise OutputError(f"cannot write to standard output: {exc.strerror or exc}") from exc


def echo_data(text: str) -> None:
    """Data goes to stdout, always as UTF-8 text: a lone surrogate (from a file name that is not UTF-8) shows as
    ``\\xNN``."""
    text = printable(text)
    with stdout_writes():
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


class DataTable(Table):
    """A table of data read from files (releases, an index) for :func:`echo_tables`: its title and text cells go
    through :func:`printable`, so no name or text can send control characters to the terminal."""

    def __init__(self, *columns: object, title: str | None = None, **options: object) -> None:
        super().__init__(*columns, title=None if title is None else printable(title), **options)  # type: ignore[arg-type]

    def add_row(self, *cells: object, **options: object) -> None:
        super().add_row(*(printable(cell) if isinstance(cell, str) else cell for cell in cells),  # type: ignore[misc]
                        **options)  # type: ignore[arg-type]


def echo_tables(*tables: Table) -> None:
    """Rich tables on stdout (``diff``, ``releases``), as :func:`echo_data` writes."""
    console = Console(highlight=False, soft_wrap=True)
    with stdout_writes():
        for table in tables:
            console.print(table)


def echo_json(data: object) -> None:
    """JSON on stdout, always valid UTF-8 JSON: a lone surrogate in a string is written as the text ``\\xNN``."""
    echo_data(printable(json.dumps(data, ensure_ascii=False, indent=2), in_json=True))


def info(message: str, *, quiet: bool = False) -> None:
    """Messages go to stderr, with every known secret redacted."""
    if not quiet:
        err_console.print(printable(redact(message)), markup=False)


def render_report(report: Report, *, as_json: bool, quiet: bool = False, title: str = "",
                  warnings_option: bool = False) -> int:
    """Print a report (JSON on stdout, or a grouped table on stderr) and return its exit code.

    ``warnings_option``: the command has ``--warnings-per-code`` (the line about warnings not listed names it
    then, and says how many of each code were kept otherwise)."""
    if as_json:
        echo_json(report.to_dict())
    elif not quiet or not report.valid:
        for problem in report.problems[:200]:
            where = problem.location()
            line = f"{problem.severity}: [{problem.code}] {where + ': ' if where else ''}{redact(problem.message)}"
            err_console.print(
                printable(line),
                markup=False,
            )
        if len(report.problems) > 200:
            err_console.print(f"... and {len(report.problems) - 200} more problems (--json lists every one kept)")
        hint = " (--warnings-per-code)" if warnings_option else f" ({report.warnings_per_code:,} of each code kept)"
        for code, count in report.unlisted_warnings().items():
            err_console.print(f"... and {count:,} more {code} warnings not listed{hint}", markup=False)
        counts = report.counts()
        if counts:
            table = Table(title=title or "Problems by code")
            table.add_column("code")
            table.add_column("severity")
            table.add_column("count", justify="right")
            severities = {p.code: p.severity for p in report.problems}
            for code, count in counts.items():
                table.add_row(code, severities.get(code, "error"), str(count))  # absent: every one past --max-errors
            err_console.print(table)
        status = "valid" if report.valid else "INVALID"
        stats = ", ".join(f"{k}: {v}" for k, v in report.stats.items() if not isinstance(v, dict | list))
        err_console.print(
            f"{status}: {report.errors_found} errors, {report.warnings_found} warnings"
            + (f" ({stats})" if stats else ""),
            markup=False,
        )
    return EXIT_OK if report.valid else EXIT_INVALID
