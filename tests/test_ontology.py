from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from corpus_tools.errors import OntologyError
from corpus_tools.ontology import check_ontology, default_ontology_path, load_ontology

REQUIRED_RELATIONS = {
    "PHYS.Located", "PHYS.Near", "PART-WHOLE.Geographical", "PART-WHOLE.Subsidiary", "PER-SOC.Business",
    "PER-SOC.Family", "PER-SOC.Lasting-Personal", "ORG-AFF.Employment", "ORG-AFF.Ownership", "ORG-AFF.Founder",
    "ORG-AFF.Student-Alum", "ORG-AFF.Sports-Affiliation", "ORG-AFF.Investor-Shareholder", "ORG-AFF.Membership",
    "ART.User-Owner-Inventor-Manufacturer", "GEN-AFF.Citizen-Resident-Religion-Ethnicity",
    "GEN-AFF.Org-Location-Origin",
}

MINIMAL = """\
name: tiny
version: 1.0.0
entities:
  - {label: PER, name_ar: شخص, name_en: Person, definition: A person., color: "#112233", hotkey: p}
  - {label: ORG, name_ar: منظمة, name_en: Organization, definition: An organisation., color: "#445566", hotkey: o}
relations:
  - {label: WORKS_FOR, head: [PER], tail: [ORG], symmetric: false}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ontology.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(path: Path) -> list[tuple[str, str | None, int | None]]:
    report, _ = check_ontology(path)
    return [(p.code, p.json_path, p.line) for p in report.problems]


def test_default_ontology_is_valid_and_complete():
    ontology = load_ontology()
    assert ontology.entity_labels == ("PER", "ORG", "GPE", "LOC", "FAC", "NORP")
    assert set(ontology.relation_labels) == REQUIRED_RELATIONS
    assert ontology.name and ontology.version
    for entity in ontology.entities:
        assert entity.name_ar and entity.name_en and entity.definition and entity.hotkey
    near = ontology.relation("PHYS.Near")
    assert near.symmetric and near.head == ("PER", "FAC", "GPE", "LOC")
    employment = ontology.relation("ORG-AFF.Employment")
    assert not employment.symmetric and employment.tail == ("ORG", "GPE")


def test_relation_allows_checks_direction_unless_symmetric():
    ontology = load_ontology()
    assert ontology.relation("ORG-AFF.Employment").allows("PER", "GPE")
    assert not ontology.relation("ORG-AFF.Employment").allows("GPE", "PER")
    assert ontology.relation("PHYS.Near").allows("GPE", "PER")


def test_minimal_ontology_loads(tmp_path):
    ontology = load_ontology(write(tmp_path, MINIMAL))
    assert ontology.bio_labels == ("O", "B-PER", "I-PER", "B-ORG", "I-ORG")
    assert ontology.overlap == "nested"


def test_unknown_key_is_located(tmp_path):
    path = write(tmp_path, MINIMAL.replace("version: 1.0.0\n", "version: 1.0.0\ncolour_scheme: dark\n"))
    assert problems(path) == [("ontology-schema", "$", 1)]
    report, _ = check_ontology(path)
    assert "colour_scheme" in report.problems[0].message


def test_duplicate_label_is_located(tmp_path):
    extra = '  - {label: PER, name_ar: ب, name_en: B, definition: B., color: "#000000", hotkey: q}\n'
    text = MINIMAL.replace("relations:", extra + "relations:")
    assert problems(write(tmp_path, text)) == [("ontology-duplicate-label", "$.entities[2].label", 6)]


def test_relation_naming_undefined_entity_is_located(tmp_path):
    text = MINIMAL.replace("tail: [ORG]", "tail: [ORG, GPE]")
    assert problems(write(tmp_path, text)) == [("ontology-undefined-entity", "$.relations[0].tail[1]", 7)]


def test_bad_colour_is_located(tmp_path):
    text = MINIMAL.replace('"#445566"', '"blue"')
    assert problems(write(tmp_path, text)) == [("ontology-schema", "$.entities[1].color", 5)]


def test_duplicate_hotkey_is_located(tmp_path):
    text = MINIMAL.replace("hotkey: o", "hotkey: p")
    assert problems(write(tmp_path, text)) == [("ontology-duplicate-hotkey", "$.entities[1].hotkey", 5)]


def test_yaml_syntax_error_is_located(tmp_path):
    path = write(tmp_path, "name: x\nentities: [\n  - a\n")
    [(code, _, line)] = problems(path)
    assert code == "ontology-unreadable" and line is not None


def test_load_raises_with_report(tmp_path):
    path = write(tmp_path, MINIMAL.replace('"#445566"', '"blue"'))
    with pytest.raises(OntologyError) as info:
        load_ontology(path)
    assert "$.entities[1].color" in str(info.value)
    assert info.value.report.counts() == {"ontology-schema": 1}


def test_missing_file_raises(tmp_path):
    with pytest.raises(OntologyError, match="cannot read ontology"):
        load_ontology(tmp_path / "nope.yaml")


def test_default_file_is_plain_yaml_mapping():
    data = yaml.safe_load(default_ontology_path().read_text(encoding="utf-8"))
    assert data["name"] == "arabic-news-ace-core"


def test_bundled_schemas_are_valid_json_schemas(repo_root) -> None:
    """Loading checks them with the compiled meta-schema only; the full jsonschema check runs here."""
    import json

    import jsonschema_rs
    from jsonschema import Draft202012Validator

    paths = sorted((repo_root / "schemas").glob("*.schema.json"))
    assert len(paths) >= 6
    for path in paths:
        schema = json.loads(path.read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(schema)
        assert jsonschema_rs.meta.is_valid(schema)
    assert not jsonschema_rs.meta.is_valid({"type": 12})  # the fast check does refuse what jsonschema refuses
