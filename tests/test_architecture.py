"""The house in data-flow order: the tree, docs/architecture.md and the import-linter contracts agree."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "corpus_tools"
STAGES = {"ingest", "labelstudio", "validate", "teams", "build", "release", "publish", "interop", "cli"}
STAGE_PREFIX = re.compile(r"^(ingest|labelstudio|validate|validation|build|release|publish|token)_")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _modules() -> set[str]:
    return {p.relative_to(REPO).as_posix() for p in PACKAGE.rglob("*.py") if "_data" not in p.parts}


def test_every_module_is_in_the_architecture_page():
    page = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `(corpus_tools/[\w/]+\.py)` \|", page, flags=re.M))
    assert _modules() - listed == set(), "modules missing from docs/architecture.md"
    assert listed - _modules() == set(), "docs/architecture.md lists modules that do not exist"


def test_the_root_holds_only_core_modules_and_stage_packages():
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == STAGES
    prefixed = [p.name for p in PACKAGE.rglob("*.py") if STAGE_PREFIX.match(p.name)]
    assert prefixed == []


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    if not LINT_IMPORTS.exists():
        pytest.fail(f"lint-imports is not installed beside {sys.executable} (make venv installs it)")
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def package_copy(tmp_path) -> Path:
    shutil.copytree(PACKAGE, tmp_path / "corpus_tools", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_contracts_hold_on_the_tree(package_copy):
    result = _lint_imports(package_copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_a_wrong_way_import_breaks_the_layers_contract(package_copy):
    ontology = package_copy / "corpus_tools" / "ontology.py"
    ontology.write_text(ontology.read_text(encoding="utf-8") + "\nfrom corpus_tools.validate import driver  # noqa\n",
                        encoding="utf-8")
    result = _lint_imports(package_copy)
    assert result.returncode == 1
    assert "Stages in data-flow order over a layered core BROKEN" in result.stdout
    assert "corpus_tools.ontology -> corpus_tools.validate.driver" in result.stdout


def test_an_import_cycle_inside_a_stage_breaks_the_cycle_contract(package_copy):
    manifest = package_copy / "corpus_tools" / "release" / "manifest.py"
    manifest.write_text(manifest.read_text(encoding="utf-8") + "\nfrom corpus_tools.release import checks  # noqa\n",
                        encoding="utf-8")
    result = _lint_imports(package_copy)
    assert result.returncode == 1
    assert "No import cycles inside any package BROKEN" in result.stdout


@pytest.mark.parametrize("stage", ["ingest", "validate", "build", "release"])
def test_a_stage_exports_its_plain_functions_lazily(stage):
    code = (f"import sys, corpus_tools.{stage} as stage\n"
            f"loaded = {{m for m in sys.modules if m.startswith('corpus_tools.{stage}.')}}\n"
            "assert not loaded, loaded\n"
            "for name in stage.__all__:\n"
            "    obj = getattr(stage, name)\n"
            "    assert callable(obj) and obj.__name__ == name, name\n"
            "try:\n"
            "    stage.no_such_function\n"
            "except AttributeError:\n"
            "    pass\n"
            "else:\n"
            "    raise SystemExit('an unknown name must be an AttributeError')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
