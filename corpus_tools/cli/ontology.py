"""``corpus-tools ontology check|export``."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from corpus_tools.cli._common import JsonOption, QuietOption, echo_data, render_report
from corpus_tools.ontology import check_ontology, default_ontology_path, load_ontology

app = typer.Typer(help="Check the ontology and print what is generated from it.", no_args_is_help=True)

PathArgument = Annotated[
    Path | None,
    typer.Argument(help="Ontology YAML file (default: the bundled annotations/ontology.yaml).", dir_okay=False,
                   readable=False, metavar="PATH"),  # unreadable: OntologyError (exit 3), not Typer's usage error
]


class Target(StrEnum):
    labelstudio = "labelstudio"
    export_schema = "export-schema"
    features = "features"
    brat = "brat"
    glossary = "glossary"


@app.command("check")
def check_command(path: PathArgument = None, as_json: JsonOption = False, quiet: QuietOption = False) -> None:
    """Validate an ontology file against schemas/ontology.schema.json and its semantic rules.

    Exit 0 when valid, 1 with the location (line and JSON path) of each problem otherwise.
    """
    report, _ = check_ontology(path or default_ontology_path())
    raise typer.Exit(render_report(report, as_json=as_json, quiet=quiet, title="Ontology problems"))


@app.command("export")
def export_command(
    target: Annotated[Target, typer.Option("--target", help="Which artefact to generate.")],
    path: PathArgument = None,
) -> None:
    """Print an artefact generated from the ontology on stdout.

    Targets: labelstudio (labeling config XML), export-schema (JSON Schema for a Label Studio
    export), features (datasets Features per release config, as JSON), brat (annotation.conf),
    glossary (Markdown label glossary).
    """
    from corpus_tools import artefacts as generate
    ontology = load_ontology(path)
    if target is Target.labelstudio:
        echo_data(generate.ontology_to_labelstudio_config(ontology))
    elif target is Target.export_schema:
        echo_data(json.dumps(generate.ontology_to_export_schema(ontology), ensure_ascii=False, indent=2))
    elif target is Target.features:
        features = generate.ontology_to_features(ontology)
        echo_data(json.dumps({name: f.to_dict() for name, f in features.items()}, ensure_ascii=False, indent=2))
    elif target is Target.brat:
        echo_data(generate.ontology_to_brat_conf(ontology))
    else:
        echo_data(generate.ontology_to_glossary(ontology))
