from __future__ import annotations

import json
import textwrap
import xml.etree.ElementTree as ET

import datasets
from jsonschema import Draft202012Validator

from corpus_tools.artefacts import (
    RTL_STYLE,
    brat_name,
    ontology_to_brat_conf,
    ontology_to_export_schema,
    ontology_to_features,
    ontology_to_glossary,
    ontology_to_labelstudio_config,
)
from corpus_tools.ontology import load_ontology


def test_labelstudio_config_is_rtl_symbol_granularity_with_every_label(ontology):
    root = ET.fromstring(ontology_to_labelstudio_config(ontology))
    assert root.tag == "View"
    texts = root.findall(".//Text")
    assert len(texts) == 1
    text = texts[0]
    assert text.get("granularity") == "symbol"
    assert text.get("value") == "$text"
    wrapper = next(v for v in root.iter("View") if text in list(v))
    assert wrapper.get("style") == RTL_STYLE
    labels = root.find("Labels")
    assert labels.get("toName") == text.get("name")
    found = {el.get("value"): (el.get("background"), el.get("hotkey")) for el in labels.iter("Label")}
    assert found == {e.label: (e.color, e.hotkey) for e in ontology.entities}
    assert [el.get("value") for el in root.iter("Relation")] == list(ontology.relation_labels)
    assert root.find("Relations").get("choice") == "single"


def test_labelstudio_config_escapes_names(tmp_path):
    nasty = 'A&B<"x">'
    path = tmp_path / "o.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            name: nasty
            version: 0.0.1
            entities:
              - {{label: '{nasty}', name_ar: س, name_en: S, definition: D., color: "#010203", hotkey: a}}
            relations:
              - {{label: '{nasty}>rel', head: ['{nasty}'], tail: ['{nasty}'], symmetric: true}}
            """
        ),
        encoding="utf-8",
    )
    xml = ontology_to_labelstudio_config(load_ontology(path))
    assert nasty not in xml  # raw characters never appear unescaped
    root = ET.fromstring(xml)
    assert [el.get("value") for el in root.iter("Label")] == [nasty]
    assert [el.get("value") for el in root.iter("Relation")] == [nasty + ">rel"]


def _task(label: str, relation_label: str) -> dict:
    return {
        "id": 1,
        "data": {"text": "زار بوتين موسكو"},
        "annotations": [
            {
                "id": 10,
                "result": [
                    {"id": "a", "from_name": "label", "to_name": "text", "type": "labels",
                     "value": {"start": 4, "end": 9, "text": "بوتين", "labels": [label]}},
                    {"id": "b", "from_name": "label", "to_name": "text", "type": "labels",
                     "value": {"start": 10, "end": 15, "text": "موسكو", "labels": ["GPE"]}},
                    {"from_id": "a", "to_id": "b", "type": "relation", "direction": "right",
                     "labels": [relation_label]},
                ],
            }
        ],
    }


def test_export_schema_narrows_labels(ontology):
    schema = ontology_to_export_schema(ontology)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    assert list(validator.iter_errors(_task("PER", "PHYS.Located"))) == []
    paths = sorted(e.json_path for e in validator.iter_errors(_task("PERSON", "LIVES_IN")))
    assert paths == [
        "$.annotations[0].result[0].value.labels[0]",
        "$.annotations[0].result[2].labels[0]",
    ]


def test_features_round_trip_through_arrow(ontology):
    features = ontology_to_features(ontology)
    assert set(features) == {"documents", "tokens", "relations", "annotations"}
    for feats in features.values():
        assert datasets.Features.from_arrow_schema(feats.arrow_schema) == feats
    docs = features["documents"]
    assert isinstance(docs["entities"], datasets.List)
    assert docs["entities"].feature["label"].names == list(ontology.entity_labels)
    assert docs["relations"].feature["label"].names == list(ontology.relation_labels)
    assert features["tokens"]["ner_tags"].feature.names == list(ontology.bio_labels)
    # list<struct>, not a struct of lists
    import pyarrow as pa

    entity_type = docs.arrow_schema.field("entities").type
    assert pa.types.is_list(entity_type) and pa.types.is_struct(entity_type.value_type)
    assert entity_type.value_type.field("label").type == pa.int64()  # ClassLabel storage
    assert json.dumps(features["relations"].to_dict())


def test_brat_conf_has_argument_constraints(ontology):
    conf = ontology_to_brat_conf(ontology)
    sections = [line for line in conf.splitlines() if line.startswith("[")]
    assert sections == ["[entities]", "[relations]", "[events]", "[attributes]"]
    entities = conf.split("[entities]\n")[1].split("\n\n")[0].splitlines()
    assert entities == list(ontology.entity_labels)
    lines = {ln.split("\t")[0]: ln.split("\t")[1] for ln in conf.splitlines() if "\t" in ln}
    assert lines[brat_name("ORG-AFF.Employment")] == "Arg1:PER, Arg2:ORG|GPE"
    assert lines[brat_name("PHYS.Near")] == "Arg1:PER|FAC|GPE|LOC, Arg2:FAC|GPE|LOC, <REL-TYPE>:symmetric"
    assert len(lines) == len(ontology.relations)


def test_glossary_lists_every_label(ontology):
    glossary = ontology_to_glossary(ontology)
    for entity in ontology.entities:
        assert f"`{entity.label}` | {entity.name_ar} | {entity.name_en}" in glossary
    for relation in ontology.relations:
        assert f"`{relation.label}`" in glossary


def test_brat_names_are_one_per_label_with_a_comment_when_renamed(tmp_path):
    from corpus_tools.artefacts import brat_type_names

    path = tmp_path / "o.yaml"
    path.write_text(textwrap.dedent("""\
        name: brat
        version: 1.0.0
        entities:
          - {label: A.B, name_ar: ا, name_en: A, definition: D., color: "#112233", hotkey: a}
          - {label: A_B, name_ar: ب, name_en: B, definition: D., color: "#112233", hotkey: b}
          - {label: شخص, name_ar: ش, name_en: P, definition: D., color: "#112233", hotkey: c}
          - {label: منظمة, name_ar: م, name_en: O, definition: D., color: "#112233", hotkey: d}
          - {label: ___, name_ar: م, name_en: O, definition: D., color: "#112233", hotkey: e}
        relations:
          - {label: R.X, head: [A.B, شخص], tail: [منظمة], symmetric: false}
          - {label: R_X, head: [A_B], tail: [A_B], symmetric: false}
        """), encoding="utf-8")
    ontology = load_ontology(path)
    names = brat_type_names(ontology)
    assert names == {"A.B": "A_B_2", "A_B": "A_B", "شخص": "____2", "منظمة": "_____", "___": "___",
                     "R.X": "R_X_2", "R_X": "R_X"}
    conf = ontology_to_brat_conf(ontology)
    entities = conf.split("[entities]\n")[1].split("\n\n")[0].splitlines()
    assert entities == ["# A_B_2 = A.B", "A_B_2", "A_B", "# ____2 = شخص", "____2", "# _____ = منظمة", "_____", "___"]
    assert "# R_X_2 = R.X\nR_X_2\tArg1:A_B_2|____2, Arg2:_____\nR_X\tArg1:A_B, Arg2:A_B\n" in conf
