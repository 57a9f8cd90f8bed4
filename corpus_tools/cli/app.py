"""The ``corpus-tools`` Typer app and its entry point.

Exit codes: 0 ok, 1 invalid data, 2 usage, 3 could not run.  Every
:class:`~corpus_tools.errors.CorpusToolsError` becomes one ``Error: ...`` line on stderr.
"""

from __future__ import annotations

import signal
import sys
from typing import Annotated

import typer

from corpus_tools import __version__
from corpus_tools.cli import adjudicate as adjudicate_cli
from corpus_tools.cli import build as build_cli
from corpus_tools.cli import convert as convert_cli
from corpus_tools.cli import demo as demo_cli
from corpus_tools.cli import ingest as ingest_cli
from corpus_tools.cli import ls as ls_cli
from corpus_tools.cli import ontology as ontology_cli
from corpus_tools.cli import publish as publish_cli
from corpus_tools.cli import teams as teams_cli
from corpus_tools.cli import validate as validate_cli
from corpus_tools.cli._common import EXIT_FAILED, EXIT_INVALID, echo_data, err_console
from corpus_tools.errors import CorpusToolsError, InvalidDataError, ReleaseError
from corpus_tools.text import printable, redact

app = typer.Typer(
    name="corpus-tools",
    help="Build annotated Arabic news corpora with Label Studio and publish them as versioned datasets.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


def _version_callback(value: bool) -> None:
    if value:
        echo_data(f"corpus-tools {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Build annotated Arabic news corpora with Label Studio and publish them as versioned datasets.

    Exit codes: 0 ok, 1 invalid data, 2 usage error, 3 could not run.
    """


# In the order of the data flow.
app.add_typer(ontology_cli.app, name="ontology")
app.command("ingest")(ingest_cli.ingest_command)
# convert brings existing corpora in (documents and tasks for `ls import`) and takes releases out
app.command("convert", help=convert_cli.convert_help())(convert_cli.convert_command)
app.add_typer(ls_cli.app, name="ls")
app.command("validate")(validate_cli.validate_command)
app.command("adjudicate")(adjudicate_cli.adjudicate_command)
app.command("agree")(teams_cli.agree_command)
build_cli.register(app)
publish_cli.register(app)
demo_cli.register(app)


class Terminated(BaseException):
    """SIGTERM, raised like KeyboardInterrupt so that every ``finally`` and temp-file cleanup runs."""


class Interrupted(BaseException):
    """Ctrl-C (SIGINT): raised instead of KeyboardInterrupt, which click turns into a bare exit 130 before
    :func:`main` can say what happened."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def _interrupt(signum: int, frame: object) -> None:
    raise Interrupted


def main() -> None:
    """Console-script entry point: run the app, mapping toolkit errors to exit codes; Ctrl-C and SIGTERM clean up
    (temporary files are removed), say so in one line and exit 130 and 143."""
    signal.signal(signal.SIGTERM, _terminate)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # a background job keeps SIGINT ignored
        signal.signal(signal.SIGINT, _interrupt)
    try:
        app()
    except (InvalidDataError, ReleaseError) as exc:
        err_console.print(f"Error: {printable(redact(str(exc)))}", markup=False)
        sys.exit(EXIT_INVALID)
    except CorpusToolsError as exc:
        err_console.print(f"Error: {printable(redact(str(exc)))}", markup=False)
        sys.exit(EXIT_FAILED)
    except (KeyboardInterrupt, Interrupted):
        err_console.print("Error: interrupted", markup=False)
        sys.exit(130)
    except Terminated:
        err_console.print("Error: terminated", markup=False)
        sys.exit(128 + signal.SIGTERM)
