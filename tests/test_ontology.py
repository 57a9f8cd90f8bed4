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


# -- YAML that is not plain data, aliases, duplicate keys, labels, speed -----------------------------------


def run_cli(*args: str):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "corpus_tools", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("change, expected", [
    (("version: 1.0.0", "version: 2024-01-01"), ("ontology-schema", "$.version", 2)),  # a date stays its text
    (("version: 1.0.0", "version: !!binary aGVsbG8="), ("ontology-schema", "$.version", 2)),
    (("version: 1.0.0", "version: !!set {a, b}"), ("ontology-schema", "$.version", 2)),
    (("version: 1.0.0", "version: .inf"), ("ontology-schema", "$.version", 2)),
    (("name: tiny", "name: tiny\n1: 2"), ("ontology-schema", "$", 2)),
    (("name: tiny", "name: tiny\nnull: 3"), ("ontology-schema", "$", 2)),
    (("name: tiny", "name: tiny\n<<: {language: ar}"), ("ontology-schema", "$", 2)),
])
def test_yaml_values_that_are_not_json_are_located_schema_problems(tmp_path, change, expected):
    path = write(tmp_path, MINIMAL.replace(*change))
    found = problems(path)
    assert found[0] == expected and {code for code, _, _ in found} == {"ontology-schema"}, found
    check = run_cli("ontology", "check", str(path))
    assert check.returncode == 1 and "Traceback" not in check.stderr and "ontology-schema" in check.stderr
    for args in (["ontology", "export", "--target", "labelstudio", str(path)],
                 ["validate", "tests/fixtures/validate/clean.json", "--ontology", str(path)]):
        result = run_cli(*args)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 3 and len(lines) == 1 and lines[0].startswith("Error: invalid ontology"), args


def test_an_alias_bomb_is_refused_quickly_and_briefly(tmp_path):
    import time

    levels = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        name, previous = chr(ord("a") + i), chr(ord("a") + i - 1)
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    path = write(tmp_path, "\n".join(levels) + "\n" + MINIMAL.replace("entities:", "entities: *i\nunused:"))
    started = time.monotonic()
    result = run_cli("ontology", "check", str(path))
    assert time.monotonic() - started < 30
    assert result.returncode == 1 and "ontology-unreadable" in result.stderr and len(result.stderr) < 3000
    assert "aliases (*name) repeat more than" in result.stderr
    shared = MINIMAL.replace("head: [PER]", "head: &people [PER]").replace("tail: [ORG]", "tail: [ORG]")
    shared += "  - {label: KNOWS, head: *people, tail: *people, symmetric: true}\n"
    assert load_ontology(write(tmp_path, shared)).relation("KNOWS").head == ("PER",)  # a few aliases are fine


def test_long_values_are_cut_in_messages(tmp_path):
    path = write(tmp_path, MINIMAL.replace("version: 1.0.0", "version: [" + ", ".join(["x" * 50] * 100) + "]"))
    report, _ = check_ontology(path)
    (problem,) = report.problems
    assert problem.code == "ontology-schema" and len(problem.message) < 500 and "characters)" in problem.message


def test_duplicate_keys_name_the_key_and_both_lines(tmp_path):
    text = MINIMAL.replace("version: 1.0.0", "version: 1.0.0\nname: other") + "relations:\n  - {label: X}\n"
    report, ontology = check_ontology(write(tmp_path, text))
    assert ontology is None
    assert [(p.code, p.json_path, p.line) for p in report.problems] == [
        ("ontology-duplicate-key", "$.name", 3), ("ontology-duplicate-key", "$.relations", 9)]
    assert "'name' is given twice in one mapping, on line 1 and line 3" in report.problems[0].message
    assert report.problems[1].details == {"key": "relations", "first_line": 7}


def test_control_characters_in_labels_are_refused(tmp_path):
    text = MINIMAL.replace("label: ORG", 'label: "O\\x01RG"').replace("tail: [ORG]", 'tail: ["O\\x01RG"]')
    path = write(tmp_path, text)
    found = problems(path)
    assert ("ontology-schema", "$.entities[1].label", 5) in found
    assert ("ontology-schema", "$.relations[0].tail[0]", 7) in found
    result = run_cli("ontology", "export", "--target", "labelstudio", str(path))
    assert result.returncode == 3 and result.stdout == ""


def test_many_problems_are_located_in_linear_time(tmp_path):
    import time

    entity = '  - {{label: E{i}, name_ar: ا, name_en: E, definition: D., color: "#112233", hotkey: p}}\n'
    text = "name: many\nversion: 1.0.0\nentities:\n" + "".join(entity.format(i=i) for i in range(1000))
    path = write(tmp_path, text + "relations: []\n")
    started = time.monotonic()
    found = problems(path)
    assert time.monotonic() - started < 10  # was 405 s: the whole file composed again for every problem
    assert len(found) == 999 and found[-1] == ("ontology-duplicate-hotkey", "$.entities[999].hotkey", 1003)
