"""docs/annotation-guidelines.md stays in step with the ontology; the Label Studio instructions are safe HTML."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from corpus_tools.artefacts import (
    GLOSSARY_END,
    GLOSSARY_START,
    glossary_block,
    ontology_to_glossary,
    ontology_to_instructions,
    replace_glossary_block,
)
from corpus_tools.ontology import load_ontology
from corpus_tools.report import all_codes


@pytest.fixture(scope="module")
def guidelines(repo_root) -> str:
    return (repo_root / "docs" / "annotation-guidelines.md").read_text(encoding="utf-8")


def test_glossary_block_is_the_generated_glossary(guidelines):
    assert glossary_block(guidelines) == ontology_to_glossary(load_ontology())


def test_glossary_block_is_the_cli_output(guidelines, repo_root):
    out = subprocess.run(
        [sys.executable, "-m", "corpus_tools", "ontology", "export", "--target", "glossary"],
        cwd=repo_root, capture_output=True, text=True, encoding="utf-8", check=True,
    ).stdout
    assert glossary_block(guidelines) == out


def test_every_label_is_in_the_guidelines(guidelines, ontology):
    outside_glossary = guidelines.replace(glossary_block(guidelines), "")
    for label in ontology.entity_labels + ontology.relation_labels:
        assert f"`{label}`" in guidelines, label
        assert label in outside_glossary, f"{label} is only in the generated glossary, not explained in the text"


def test_guidelines_have_the_required_sections(guidelines):
    for heading in ("## Annotator quickstart", "## 3. Span boundaries", "### 4.3 Nested mentions",
                    "## 5. Hotkeys and colours", "## 6. Drawing relations", "## 7. Uncertain cases",
                    "## 8. Selecting characters precisely"):
        assert heading in guidelines
    assert guidelines.index("## Annotator quickstart") < guidelines.index("## 1. What to annotate")


def test_glossary_block_helpers():
    doc = f"intro\n{GLOSSARY_START}\nold\n{GLOSSARY_END}\noutro\n"
    assert glossary_block(doc) == "old\n"
    new = replace_glossary_block(doc, "| a |")
    assert new == f"intro\n{GLOSSARY_START}\n| a |\n{GLOSSARY_END}\noutro\n"
    assert glossary_block(new) == "| a |\n"
    assert glossary_block("no markers") is None
    assert glossary_block(f"{GLOSSARY_START} but no end") is None
    with pytest.raises(ValueError):
        replace_glossary_block("no markers", "x")


def _parse(html: str) -> ET.Element:
    return ET.fromstring(html)  # strict XML: unbalanced tags or raw & < would raise


def test_instructions_are_well_formed_and_cover_every_label(ontology):
    html = ontology_to_instructions(ontology)
    root = _parse(html)
    assert root.tag == "div"
    text = "".join(root.itertext())
    for e in ontology.entities:
        assert e.label in text and e.definition in text and e.name_ar in text
        assert f"<kbd>{e.hotkey}</kbd>" in html
        assert f"<code>{e.color}</code>" in html
    for r in ontology.relations:
        assert r.label in text
    assert "لأمم المتحدة" in text and "وبغداد" in text
    assert "draw once" in text


def test_instructions_follow_the_overlap_policy(ontology):
    nested = "".join(_parse(ontology_to_instructions(ontology)).itertext())
    forbid = "".join(_parse(ontology_to_instructions(dataclasses.replace(ontology, overlap="forbid"))).itertext())
    assert "never cross" in nested
    assert "may not overlap" in forbid and "never cross" not in forbid


def test_instructions_escape_ontology_text(ontology):
    evil_label = 'X<b>&"\''
    evil = dataclasses.replace(
        ontology,
        name="n<script>",
        entities=(
            dataclasses.replace(ontology.entities[0], label=evil_label, definition="<script>alert(1)</script> & co",
                                color='#fff" onmouseover="x', name_ar="<i>"),
        ) + ontology.entities[1:],
        relations=(dataclasses.replace(ontology.relations[0], label="R&<D>", head=(evil_label,)),)
        + ontology.relations[1:],
    )
    html = ontology_to_instructions(evil)
    root = _parse(html)
    text = "".join(root.itertext())
    assert evil_label in text and "<script>alert(1)</script> & co" in text and "R&<D>" in text
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "onmouseover" not in html  # an invalid colour is dropped, not escaped into the page
    assert not any(el.tag in ("script", "i") for el in root.iter())


def _checked_rules(guidelines: str) -> list[tuple[str, list[str], str, str]]:
    """The rows of §9: (rule, the codes that check it, severity, the "checked by" cell)."""
    section = guidelines.split("## 9. Which rules the validator checks", 1)[1]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] not in ("Rule", "---"):
            rows.append((cells[0], re.findall(r"`([a-z0-9]+(?:-[a-z0-9]+)+)`", cells[1]), cells[2], cells[1]))
    return rows


def test_every_checked_rule_names_a_defined_code_of_its_severity(guidelines):
    import corpus_tools.codes  # noqa: F401 - registers the validate codes

    defined = all_codes()
    rows = _checked_rules(guidelines)
    assert len(rows) >= 15
    for rule, codes, severity, checked_by in rows:
        if not codes:
            assert checked_by == "not checked: needs a human" and severity == "", rule
            continue
        for code in codes:
            assert code in defined and defined[code].stage == "validate", code
            assert defined[code].severity == severity, (rule, code)


def test_the_guideline_rules_of_issue_22_are_checked(guidelines):
    named = {code for _, codes, _, _ in _checked_rules(guidelines) for code in codes}
    assert {"span-edge-punctuation", "span-edge-tatweel", "span-contains-digit", "span-contains-emoji",
            "relation-inner-span", "span-edge-whitespace", "span-edge-control", "span-left-edge-inside-word",
            "span-right-edge-inside-word", "span-overlap"} <= named


def test_every_span_boundary_rule_says_how_it_is_checked(guidelines):
    section = guidelines.split("## 3. Span boundaries", 1)[1].split("## 4. Hard cases", 1)[0]
    for subsection in section.split("\n### ")[1:]:
        assert "*Checked:*" in subsection or "*Not checked: needs a human" in subsection, subsection.splitlines()[0]
