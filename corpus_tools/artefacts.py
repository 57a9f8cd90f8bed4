"""Everything derived from the ontology, one function per artefact.

* :func:`ontology_to_labelstudio_config`: the Label Studio labeling config XML;
* :func:`ontology_to_export_schema`: the export JSON Schema narrowed to the ontology's labels;
* :func:`ontology_to_features`: one ``datasets.Features`` per release config;
* :func:`ontology_to_brat_conf`: a brat ``annotation.conf`` with argument constraints;
* :func:`ontology_to_glossary`: the Markdown label glossary for cards and docs;
* :func:`glossary_block` / :func:`replace_glossary_block`: the generated label glossary that
  ``docs/annotation-guidelines.md`` holds between ``<!-- glossary:start -->`` and
  ``<!-- glossary:end -->`` (the exact output of ``corpus-tools ontology export --target glossary``);
* :func:`ontology_to_instructions`: a short HTML version of the key span rules and the glossary,
  for the instructions Label Studio shows annotators.  Every string taken from the ontology is
  HTML-escaped and the result is well-formed XML (one ``<div>``), so it is safe to embed.
"""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from html import escape
from typing import TYPE_CHECKING

import regex

from corpus_tools.ontology import META_DATE_PATTERN, Ontology, meta_type_words
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
    schema["$defs"]["task"]["properties"]["data"]["properties"]["meta"] = ontology_to_meta_schema(ontology)
    return schema


_META_JSON_TYPES = {"string": "string", "int": "integer", "float": "number", "bool": "boolean", "date": "string"}
META_ARROW_TYPES = {"string": "string", "int": "int64", "float": "float64", "bool": "bool", "date": "date32"}
"""The ``datasets.Value`` dtype of each meta field type."""


def ontology_to_meta_schema(ontology: Ontology) -> dict:
    """The JSON Schema of an article's ``meta`` object: the declared fields typed (null is a missing value);
    other fields are allowed (validate warns of them: ``meta-undeclared``)."""
    properties: dict[str, dict] = {}
    for name, kind in ontology.meta_fields:
        prop: dict[str, object] = {"type": [_META_JSON_TYPES[kind], "null"], "description": meta_type_words(kind)}
        if kind == "date":
            prop["pattern"] = f"^{META_DATE_PATTERN}$"
        properties[name] = prop
    return {"type": "object", "properties": properties}


def ontology_to_meta_table(ontology: Ontology) -> str:
    """A Markdown table of the documents config's ``meta`` struct fields, their types and Arrow types."""
    lines = ["| Meta field | Type | Arrow type | Value |", "|---|---|---|---|"]
    for name, kind in ontology.meta_fields:
        lines.append(f"| `{name}` | {kind} | `{META_ARROW_TYPES[kind]}` | {meta_type_words(kind)}; null when absent |")
    return "\n".join(lines) + "\n"


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
                "text_sha256": Value("string"),
                "source": Value("string"),
                "lang": Value("string"),
                "dateline_places": List(Value("string")),
                "dateline_paper": Value("string"),
                "dateline_agencies": List(Value("string")),
                "meta": {name: Value(META_ARROW_TYPES[kind]) for name, kind in ontology.meta_fields},
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


# ---------------------------------------------------------------------------------------------- guidelines
GUIDELINES_DOC = "docs/annotation-guidelines.md"
GLOSSARY_START = "<!-- glossary:start -->"
GLOSSARY_END = "<!-- glossary:end -->"

_HEX_COLOUR = regex.compile(r"#[0-9a-fA-F]{6}")


def glossary_block(markdown: str) -> str | None:
    """The text between the glossary markers (the newline after the start marker excluded), or None."""
    start = markdown.find(GLOSSARY_START)
    if start < 0:
        return None
    body = start + len(GLOSSARY_START)
    end = markdown.find(GLOSSARY_END, body)
    if end < 0:
        return None
    return markdown[body:end].removeprefix("\n")


def replace_glossary_block(markdown: str, glossary: str) -> str:
    """``markdown`` with the text between the glossary markers replaced by ``glossary``."""
    start = markdown.find(GLOSSARY_START)
    end = markdown.find(GLOSSARY_END, start + len(GLOSSARY_START)) if start >= 0 else -1
    if start < 0 or end < 0:
        raise ValueError(f"no {GLOSSARY_START} … {GLOSSARY_END} block in the document")
    if not glossary.endswith("\n"):
        glossary += "\n"
    return markdown[: start + len(GLOSSARY_START)] + "\n" + glossary + markdown[end:]


def _ar(text: str) -> str:
    """An Arabic example, isolated right to left."""
    return f'<span dir="rtl">{escape(text)}</span>'


def _example(written: str, span: str) -> str:
    return f"{_ar(written)} → {_ar(span)}"


def _overlap_rule(policy: str) -> str:
    if policy == "forbid":
        return "Spans may not overlap: annotate the outermost name only."
    if policy == "any":
        return "Spans may overlap. Relations connect outermost spans only."
    return (
        "Nested spans: a span may lie inside another but never cross it. Add an inner span only for an organ"
        f" of a named body ({_ar('الجمعية العامة للأمم المتحدة')} contains {_ar('لأمم المتحدة')}). Only the"
        " outermost span goes into BIO tokens; never draw a relation to an inner span."
    )


def _key_rules(ontology: Ontology) -> list[str]:
    return [
        "Label every name of a person, organisation, place, facility or group, in the title and dateline too."
        f" Not pronouns, titles or descriptions ({_ar('الرئيس')}, {_ar('الحكومة')}, {_ar('بلاده')}).",
        "Proclitics و ف ب ل ك and their stacks stay outside the span, and so does a tatweel after them:"
        f" {_example('وبغداد', 'بغداد')}, {_example('لـرويترز', 'رويترز')}. Never cut a letter of the name:"
        f" {_example('ولبنان', 'لبنان')}.",
        f"The article ال is inside: {_example('بالعراق', 'العراق')}.",
        "The لل contraction: the span starts at the second lam:"
        f" {_example('للأمم المتحدة', 'لأمم المتحدة')}.",
        "A span ends at the end of a word (enclitic pronouns are not annotated) and never starts or ends with a"
        " space or an invisible mark.",
        f"Titles stay outside person names: {_example('الرئيس فلاديمير بوتين', 'فلاديمير بوتين')}.",
        "A nisba adjective that denotes a state is GPE:"
        f" {_example('وزير الخارجية الروسي', 'الروسي')}. Plural people nouns are NORP:"
        f" {_ar('العرب')}, {_ar('آلاف السوريين')} → {_ar('السوريين')}.",
        _overlap_rule(ontology.overlap),
        "Relations go head → tail (ACE Arg-1 → Arg-2): click the head, press <kbd>Alt+R</kbd>, click the tail,"
        " then choose the label in the Relations panel. Draw symmetric relations once.",
        "Select exactly the letters of the name (character granularity); never double-click a word that has a"
        " proclitic; check the region text in the Regions panel. Unsure? Annotate your best guess and add a"
        " comment that starts with <code>?</code>.",
    ]


def _colour(colour: str) -> str:
    # Label Studio strips style attributes from instructions, so the colour is shown as text.
    return f"<code>{colour}</code>" if _HEX_COLOUR.fullmatch(colour) else ""


def ontology_to_instructions(ontology: Ontology) -> str:
    """A short HTML summary of the annotation rules and every label, for Label Studio's instructions."""
    out = ['<div class="corpus-tools-instructions">']
    out.append(
        f"<p><b>{escape(ontology.name)} {escape(ontology.version)}</b>: key rules. The full guidelines are"
        f" <code>{GUIDELINES_DOC}</code> in the corpus-tools repository.</p>"
    )
    out.append("<ol>")
    out += [f"<li>{rule}</li>" for rule in _key_rules(ontology)]
    out.append("</ol>")
    out.append("<h4>Entity labels</h4>")
    # Written as Label Studio stores it (explicit <tbody>), so `ls setup` can tell when nothing changed.
    out.append("<table><tbody><tr><th>Label</th><th>Key</th><th>Colour</th><th>Meaning</th></tr>")
    for e in ontology.entities:
        out.append(
            f"<tr><td><b>{escape(e.label)}</b> {_ar(e.name_ar)}</td><td><kbd>{escape(e.hotkey)}</kbd></td>"
            f"<td>{_colour(e.color)}</td><td>{escape(e.definition)}</td></tr>"
        )
    out.append("</tbody></table>")
    if ontology.relations:
        out.append("<h4>Relations (head → tail)</h4>")
        out.append("<table><tbody><tr><th>Relation</th><th>Head → tail</th><th>Meaning</th></tr>")
        for r in ontology.relations:
            arrow = "↔" if r.symmetric else "→"
            sides = f"{escape(', '.join(r.head))} {arrow} {escape(', '.join(r.tail))}"
            note = " (symmetric: draw once)" if r.symmetric else ""
            out.append(
                f"<tr><td><code>{escape(r.label)}</code></td><td>{sides}</td>"
                f"<td>{escape(r.definition)}{note}</td></tr>"
            )
        out.append("</tbody></table>")
    out.append("</div>")
    return "\n".join(out) + "\n"
