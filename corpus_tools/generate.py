"""Everything derived from the ontology, one function per artefact.

* :func:`ontology_to_labelstudio_config`: the Label Studio labeling config XML;
* :func:`ontology_to_export_schema`: the export JSON Schema narrowed to the ontology's labels;
* :func:`ontology_to_features`: one ``datasets.Features`` per release config;
* :func:`ontology_to_brat_conf`: a brat ``annotation.conf`` with argument constraints;
* :func:`ontology_to_glossary`: the Markdown label glossary for cards and docs.
"""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

import regex

from corpus_tools.ontology import Ontology
from corpus_tools.schemas import SCHEMA_BASE, load_schema

if TYPE_CHECKING:
    from datasets import Features

LS_FROM_NAME = "label"
LS_TO_NAME = "text"
LS_DATA_KEY = "text"
RTL_STYLE = "direction: rtl; text-align: right"
# Keep runs of spaces and newlines visible (Label Studio trims them otherwise).
LS_CSS = ".htx-text, .lsf-htx-richtext{white-space:pre-wrap}"

RELEASE_CONFIGS = ("documents", "tokens", "relations", "annotations")


def ontology_to_labelstudio_config(ontology: Ontology) -> str:
    """The labeling config: RTL text with symbol granularity, labels, relations."""
    root = ET.Element("View")
    style = ET.SubElement(root, "Style")
    style.text = LS_CSS
    labels = ET.SubElement(root, "Labels", {"name": LS_FROM_NAME, "toName": LS_TO_NAME})
    for entity in ontology.entities:
        ET.SubElement(labels, "Label", {"value": entity.label, "background": entity.color, "hotkey": entity.hotkey})
    if ontology.relations:
        # One label per relation: the frontend's default is "multiple", whatever its docs say.
        relations = ET.SubElement(root, "Relations", {"choice": "single"})
        for relation in ontology.relations:
            ET.SubElement(relations, "Relation", {"value": relation.label})
    wrapper = ET.SubElement(root, "View", {"style": RTL_STYLE})
    ET.SubElement(
        wrapper, "Text", {"name": LS_TO_NAME, "value": f"${LS_DATA_KEY}", "granularity": "symbol"}
    )
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="unicode") + "\n"


def ontology_to_export_schema(ontology: Ontology) -> dict:
    """The generic export schema with the label enums narrowed to this ontology."""
    schema = copy.deepcopy(load_schema("labelstudio-export.schema.json"))
    schema["$id"] = f"{SCHEMA_BASE}generated/{ontology.name}/{ontology.version}/labelstudio-export.schema.json"
    schema["title"] += f" for ontology {ontology.name} {ontology.version}"
    schema["$defs"]["span_label"] = {"enum": list(ontology.entity_labels)}
    schema["$defs"]["relation_label"] = {"enum": list(ontology.relation_labels)}
    return schema


def ontology_to_features(ontology: Ontology) -> dict[str, Features]:
    """One ``datasets.Features`` per release config, ClassLabels from the ontology."""
    from datasets import ClassLabel, Features, List, Value

    entity = ClassLabel(names=list(ontology.entity_labels))
    relation = ClassLabel(names=list(ontology.relation_labels))
    bio = ClassLabel(names=list(ontology.bio_labels))
    span_struct = {
        "id": Value("string"),
        "start": Value("int32"),
        "end": Value("int32"),
        "text": Value("string"),
        "label": entity,
    }
    relation_struct = {"id": Value("string"), "head": Value("string"), "tail": Value("string"), "label": relation}
    return {
        "documents": Features(
            {
                "id": Value("string"),
                "title": Value("string"),
                "text": Value("string"),
                "source": Value("string"),
                "lang": Value("string"),
                "dateline_places": List(Value("string")),
                "dateline_paper": Value("string"),
                "dateline_agencies": List(Value("string")),
                "entities": List(span_struct),
                "relations": List(relation_struct),
            }
        ),
        "tokens": Features(
            {
                "id": Value("string"),
                "tokens": List(Value("string")),
                "token_start": List(Value("int32")),
                "token_end": List(Value("int32")),
                "ner_tags": List(bio),
            }
        ),
        "relations": Features(
            {
                "document_id": Value("string"),
                "id": Value("string"),
                "head_id": Value("string"),
                "head_start": Value("int32"),
                "head_end": Value("int32"),
                "head_text": Value("string"),
                "head_label": entity,
                "tail_id": Value("string"),
                "tail_start": Value("int32"),
                "tail_end": Value("int32"),
                "tail_text": Value("string"),
                "tail_label": entity,
                "label": relation,
            }
        ),
        "annotations": Features(
            {
                "document_id": Value("string"),
                "task_id": Value("int64"),
                "annotation_id": Value("int64"),
                "annotator": Value("string"),
                "lead_time": Value("float64"),
                "cancelled": Value("bool"),
                "ground_truth": Value("bool"),
                "created_at": Value("string"),
                "updated_at": Value("string"),
                "entities": List(span_struct),
                "relations": List(relation_struct),
            }
        ),
    }


_BRAT_UNSAFE = regex.compile(r"[^A-Za-z0-9_-]")


def brat_name(label: str) -> str:
    """A brat type name for a label (brat allows letters, digits, ``-`` and ``_``)."""
    return _BRAT_UNSAFE.sub("_", label)


def brat_type_names(ontology: Ontology) -> dict[str, str]:
    """The brat type name of every entity and relation label, one name per label (injective).

    A label brat accepts as it is keeps its name.  Any other gets :func:`brat_name`, and when that name is
    taken (``A.B`` and ``A_B``; Arabic labels, which become underscores), the first free of ``NAME_2``,
    ``NAME_3``, ... in the ontology's order (entities, then relations)."""
    labels = [*ontology.entity_labels, *ontology.relation_labels]
    names = {label: label for label in labels if brat_name(label) == label}
    taken = set(names.values())
    for label in labels:
        if label in names:
            continue
        base = candidate = brat_name(label)
        n = 1
        while candidate in taken:
            n += 1
            candidate = f"{base}_{n}"
        names[label] = candidate
        taken.add(candidate)
    return names


def ontology_to_brat_conf(ontology: Ontology) -> str:
    """A brat ``annotation.conf``: entity types, relations with Arg1/Arg2 type constraints.  Each label brat does
    not accept as a name gets its own (:func:`brat_type_names`) and a ``# NAME = LABEL`` comment above it."""
    names = brat_type_names(ontology)
    lines = [f"# Generated by corpus-tools from ontology {ontology.name} {ontology.version}; do not edit.", ""]
    lines.append("[entities]")
    for entity in ontology.entities:
        if names[entity.label] != entity.label:
            lines.append(f"# {names[entity.label]} = {entity.label}")
        lines.append(names[entity.label])
    lines += ["", "[relations]"]
    for rel in ontology.relations:
        if names[rel.label] != rel.label:
            lines.append(f"# {names[rel.label]} = {rel.label}")
        args = f"Arg1:{'|'.join(names[x] for x in rel.head)}, Arg2:{'|'.join(names[x] for x in rel.tail)}"
        if rel.symmetric:
            args += ", <REL-TYPE>:symmetric"
        lines.append(f"{names[rel.label]}\t{args}")
    lines += ["", "[events]", "", "[attributes]", ""]
    return "\n".join(lines)


def ontology_to_glossary(ontology: Ontology) -> str:
    """A Markdown glossary of every entity and relation label."""
    lines = ["| Label | Arabic | English | Hotkey | Colour | Definition |", "|---|---|---|---|---|---|"]
    for e in ontology.entities:
        lines.append(f"| `{e.label}` | {e.name_ar} | {e.name_en} | `{e.hotkey}` | `{e.color}` | {e.definition} |")
    lines += ["", "| Relation | Head (Arg-1) | Tail (Arg-2) | Symmetric | Definition |", "|---|---|---|---|---|"]
    for r in ontology.relations:
        lines.append(
            f"| `{r.label}` | {', '.join(r.head)} | {', '.join(r.tail)} | {'yes' if r.symmetric else 'no'} |"
            f" {r.definition} |"
        )
    return "\n".join(lines) + "\n"
