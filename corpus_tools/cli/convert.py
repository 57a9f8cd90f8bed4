"""``corpus-tools convert INPUT --from F --to F --out OUT``: a thin layer over
:func:`corpus_tools.interop.convert.convert`; its list of formats is generated from the registry."""

from __future__ import annotations

import textwrap
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
from corpus_tools.interop.registry import formats
from corpus_tools.report import WARNINGS_PER_CODE

CONVERT_HELP = """Convert a corpus from one format to another (brat, CoNLL, doccano, Label Studio, releases, ...).

Reads INPUT with the --from format, maps its labels with --label-map (YAML: labels, relations, drop,
drop_relations; docs/interop.md) and writes --out with the --to format. Without --label-map or --ontology the
labels pass through as they are. With either, labels the ontology lacks are one error listing each with its
count (nothing is written), unless --drop-unmapped: their spans, and the relations that lose an argument, are
left out and counted as warnings.

Every problem is located (file, line, task id) in one report, as validate prints it; --json prints the
report on stdout. The output is written atomically: a run that finds an error, fails or is interrupted
leaves --out as it was. An existing --out is replaced only when it is a previous output: a file for a format
that writes a file, a folder that convert wrote (it holds .corpus-tools-convert.json) or an empty one.

Exit 0 when written, 1 when the data has errors (nothing written), 3 when it cannot run."""


def format_table() -> str:
    """The registered formats, one per line: name, directions, summary, options (for the help and the docs)."""
    lines = []
    indent = " " * 27
    for fmt in formats().values():
        lines += textwrap.wrap(fmt.summary, width=96, initial_indent=f"  {fmt.name:<12} {fmt.directions:<11} ",
                               subsequent_indent=indent)
        for key, text in fmt.options.items():
            lines += textwrap.wrap(f"--option {key}=...: {text}", width=96, initial_indent=indent,
                                   subsequent_indent=indent + "  ")
    return "\n".join(lines)


def convert_help() -> str:
    return f"{CONVERT_HELP}\n\n\b\nFormats (name, directions, what it is, its options):\n{format_table()}"


def _check_segmentation(value: str) -> str:
    from corpus_tools.spans import check_segmentation

    try:
        return check_segmentation(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


def _names(direction: str) -> str:
    return ", ".join(f.name for f in formats().values() if direction in f.directions.split("/"))


def _format_name(direction: str):  # noqa: ANN202 - a Typer callback
    def check(value: str) -> str:
        from corpus_tools.errors import InputError
        from corpus_tools.interop.registry import get_format

        try:
            get_format(value, direction)  # type: ignore[arg-type]
        except InputError as exc:
            raise typer.BadParameter(str(exc)) from exc
        return value

    return check


def convert_command(
    source: Annotated[Path, typer.Argument(metavar="INPUT", help="The file or folder to convert.", readable=False)],
    from_format: Annotated[str, typer.Option("--from", metavar="FORMAT", help=f"Input format: {_names('read')}.",
                                             callback=_format_name("read"))],
    to_format: Annotated[str, typer.Option("--to", metavar="FORMAT", help=f"Output format: {_names('write')}.",
                                           callback=_format_name("write"))],
    out: Annotated[Path, typer.Option("--out", help="The file or folder to write (atomically).", readable=False)],
    label_map: Annotated[Path | None, typer.Option(
        "--label-map", help="YAML label map onto the ontology (labels, relations, drop, drop_relations).",
        dir_okay=False, readable=False)] = None,
    ontology: OntologyOption = None,
    drop_unmapped: Annotated[bool, typer.Option(
        "--drop-unmapped", help="Leave out (and count) spans and relations whose labels the ontology lacks, instead"
        " of refusing the conversion.")] = False,
    option: Annotated[list[str] | None, typer.Option(
        "--option", metavar="KEY=VALUE", help="A format option (repeatable), for the reader and/or the writer that"
        " declares KEY; read:KEY=VALUE or write:KEY=VALUE sets one side only. The formats' options are listed"
        " above.")] = None,
    segmentation: Annotated[str, typer.Option(
        "--segmentation", help="The tokenizer's segmentation for formats that write tokens: none or"
        " proclitic-article.", callback=_check_segmentation)] = "none",
    as_json: JsonOption = False,
    warnings_per_code: WarningsPerCodeOption = WARNINGS_PER_CODE,
    quiet: QuietOption = False,
) -> None:
    from corpus_tools.errors import InputError
    from corpus_tools.interop.convert import convert, split_options
    from corpus_tools.ontology import load_ontology

    try:
        read_options, write_options = split_options(option or [], from_format, to_format)
    except InputError as exc:
        raise typer.BadParameter(str(exc)) from exc
    loaded = load_ontology(ontology) if ontology is not None else None
    status = nullcontext() if quiet or as_json else err_console.status("converting", spinner="dots")
    with status as spinner:
        def progress(done: int) -> None:
            if spinner is not None:
                spinner.update(f"converting: {done} documents read")

        report = convert(source, from_format, to_format, out, label_map=label_map, ontology=loaded,
                         drop_unmapped=drop_unmapped, read_options=read_options, write_options=write_options,
                         segmentation=segmentation, progress=progress, warnings_per_code=warnings_per_code)
    stats = report.stats
    if stats.get("written"):
        info(f"Wrote {out} ({stats.get('documents', 0)} documents, {stats.get('entities', 0)} entities,"
             f" {stats.get('relations', 0)} relations)", quiet=quiet or as_json)
    else:
        info(f"Did not write {out}: errors were found (an existing --out is left as it was)", quiet=as_json)
    raise typer.Exit(render_report(report, as_json=as_json, quiet=quiet, title="Conversion problems by code",
                                   warnings_option=True))
