"""``corpus-tools ingest INPUT... --out PATH``: raw articles into an articles JSONL file."""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from corpus_tools.cli._common import (
    JsonOption,
    OntologyOption,
    QuietOption,
    WarningsPerCodeOption,
    err_console,
    info,
    render_report,
)
from corpus_tools.ingest.driver import DEFAULT_MAX_BYTES, ingest_paths, parse_field_mapping, write_articles_jsonl
from corpus_tools.report import WARNINGS_PER_CODE
from corpus_tools.text import has_lone_surrogate, printable


class IdFrom(StrEnum):
    name = "name"
    path = "path"


class InputFormat(StrEnum):
    auto = "auto"
    txt = "txt"
    jsonl = "jsonl"
    csv = "csv"


def _field_specs(values: list[str] | None) -> list[str] | None:
    try:
        parse_field_mapping(values or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    return values


def _text_option(value: str | None) -> str | None:
    if value is not None and has_lone_surrogate(value):
        raise typer.BadParameter(f"'{printable(value)}' is not text (it holds bytes that are not UTF-8)")
    return value


def ingest_command(
    inputs: Annotated[
        list[str],
        typer.Argument(metavar="INPUT", help="Files, folders (walked recursively in sorted order; names"
                       " starting with '.' are skipped) or '-' for stdin."),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="The articles JSONL file to write (atomically); an input"
                                      " that is this file is refused (exit 3).",
                                      dir_okay=False, readable=False)],
    fmt: Annotated[InputFormat, typer.Option("--format", help="Input format; auto picks by extension"
                                             " (.jsonl/.ndjson, .csv, anything else txt; stdin is txt).")]
    = InputFormat.auto,
    source: Annotated[str | None, typer.Option("--source", callback=_text_option,
                                               help="Source name for every article (default: the record's source"
                                               " field, else the dateline's paper).")] = None,
    lang: Annotated[str, typer.Option("--lang", callback=_text_option,
                                      help="Language of articles without a mapped lang field.")] = "ar",
    field: Annotated[
        list[str] | None,
        typer.Option("--field", metavar="TARGET=FIELD", callback=_field_specs,
                     help="Map a JSONL/CSV field to an article field (repeatable): text=body, id=guid, title=headline,"
                     " source=site, lang=language, meta=extra, meta.url=link, meta.published=date. FIELD may be a"
                     " dotted path. A title field goes first in the text (title, empty line, body) unless the"
                     " body starts with it."),
    ] = None,
    max_bytes: Annotated[int, typer.Option("--max-bytes", min=1, help="Skip (as an error) text files, JSONL"
                                           " lines and CSV texts larger than this many bytes.")]
    = DEFAULT_MAX_BYTES,
    id_from: Annotated[IdFrom, typer.Option("--id-from", help="A text file's source id: its name without the"
                                            " extension, or its path within the folder given (for archives whose"
                                            " folders reuse file names: 2019/03/001.txt and 2019/04/001.txt).")]
    = IdFrom.name,
    ontology: OntologyOption = None,
    as_json: JsonOption = False,
    warnings_per_code: WarningsPerCodeOption = WARNINGS_PER_CODE,
    quiet: QuietOption = False,
) -> None:
    """Ingest raw articles (newswire text files, JSONL, CSV) into Article records.

    Each text becomes one record of schemas/article.schema.json: the text exactly as in the file after
    removing a leading BOM and converting CRLF/CR to LF, its title, dateline (places, paper, agencies),
    paragraph offsets, source, language, relative source path, sha256 and metadata. The title is always
    part of the text: a text file's first non-blank line, or a JSONL/CSV title field put first (title, empty
    line, body) unless the body starts with it. Metadata fields the ontology declares under meta: (published,
    url and source_id always) must parse as their types (an error otherwise); others are kept with a
    warning, once per file, since a release leaves them out. The id comes from the source's id when it has
    one (a mapped id field, a text file's name without extension, or with --id-from path its path within the
    folder given), kept across edits of the text
    (meta.source_id holds it as given); otherwise it is the first 16 hex digits of the sha256. Two texts
    under one source id are an error; the same text is written once.
    Invalid UTF-8, empty, binary and over-size inputs are reported and skipped; BOMs, converted line
    ends, bidi controls and texts without the newswire layout are warnings. Re-runs give byte-identical
    output. Exit 0 when every input was accepted and the file written; 1 when any input was rejected: then
    nothing is written and an existing --out is left as it was. A run that fails or is interrupted never
    replaces or truncates --out, and a rerun removes the temporary file a killed run left beside it.
    """
    from corpus_tools.ontology import load_ontology

    mapping = parse_field_mapping(field or [])
    loaded = load_ontology(ontology)
    show_progress = not quiet and not as_json and err_console.is_terminal
    progress = Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
        TextColumn("{task.fields[files]} files, {task.completed:.0f} articles"), TimeElapsedColumn(),
        console=err_console, transient=True, disable=not show_progress,
    )
    task = progress.add_task("ingesting", total=None, files=0)

    def on_input(name: str) -> None:
        files = progress.tasks[0].fields["files"] + 1
        progress.update(task, files=files, description=name if len(name) <= 40 else "…" + name[-39:])

    result = ingest_paths(inputs, fmt=fmt.value, source=source, lang=lang, fields=mapping, max_bytes=max_bytes,
                          exclude=[out], on_input=on_input, ontology=loaded, warnings_per_code=warnings_per_code,
                          id_from=id_from.value)

    def counted() -> Iterator[dict[str, object]]:
        for article in result.articles:
            progress.advance(task)
            yield article

    with progress:
        read = write_articles_jsonl(out, counted(), report=result.report)
    if not as_json:
        stats = result.report.stats
        counts = f"({stats['duplicates']} duplicates, {stats['rejected']} rejected)"
        if result.report.valid:
            info(f"wrote {read} articles to {out} {counts}", quiet=quiet)
        else:
            info(f"did not write {out}: inputs were rejected, so it is left as it was ({read} articles read"
                 f" {counts}); fix or leave out the rejected inputs and run again", quiet=quiet)
    raise typer.Exit(render_report(result.report, as_json=as_json, quiet=quiet, title="Ingest problems",
                                   warnings_option=True))
