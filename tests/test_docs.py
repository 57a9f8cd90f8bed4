"""Docs as tests: every command has help and a docs section, every problem code is documented."""

from __future__ import annotations

from corpus_tools.artefacts import ontology_to_glossary
from corpus_tools.cli.docgen import cli_commands, render_cli_md, render_errors_md, render_ontology_md
from corpus_tools.report import all_codes


def test_errors_md_is_current(repo_root):
    assert (repo_root / "docs/errors.md").read_text(encoding="utf-8") == render_errors_md(), "run `make docs`"


def test_every_code_is_in_errors_md(repo_root):
    text = (repo_root / "docs/errors.md").read_text(encoding="utf-8")
    codes = all_codes()
    assert codes
    for code in codes:
        assert f"`{code}`" in text


def test_cli_md_is_current(repo_root):
    assert (repo_root / "docs/cli.md").read_text(encoding="utf-8") == render_cli_md(), "run `make docs`"


def test_every_command_has_help_and_a_docs_section(repo_root):
    cli_md = (repo_root / "docs/cli.md").read_text(encoding="utf-8")
    for name, command in cli_commands():
        assert (command.help or "").strip(), f"{name} has no help text"
        assert f"## `{name}`" in cli_md


def test_ontology_page_has_the_generated_glossary(repo_root, ontology):
    page = (repo_root / "docs/ontology.md").read_text(encoding="utf-8")
    assert page == render_ontology_md(), "run `make docs`"
    assert ontology_to_glossary(ontology) in page
    assert f"{ontology.name}` version `{ontology.version}" in page


def test_codes_are_kebab_case():
    import re

    for code in all_codes():
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", code), code


def test_readme_first_screen_says_how_to_get_the_command(repo_root):
    """Every README command is a bare `corpus-tools`; `make demo` installs it in .venv/bin, not on PATH."""
    first_screen = (repo_root / "README.md").read_text(encoding="utf-8").splitlines()[:40]
    text = "\n".join(first_screen)
    assert "`. .venv/bin/activate`" in text and "`.venv/bin/corpus-tools`" in text
    setup = text.split("## Set up", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    assert [line.split("#")[0].strip() for line in setup.splitlines()] == ["make demo", "make test"]
