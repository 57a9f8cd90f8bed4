"""Shared fixtures. Real servers (Label Studio, the Hub-protocol server, Chromium) live in their
own fixture modules and start once per session; under CI=true a missing component fails."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# hub_fixtures first: it sets HF_ENDPOINT before huggingface_hub/datasets can be imported.
pytest_plugins = ["hub_fixtures", "labelstudio_server", "labelstudio_team"]

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, why: str) -> None:
    """Skip locally when a component is missing; fail under CI=true, never skip silently there."""
    if not condition:
        if IN_CI:
            pytest.fail(f"required component missing under CI=true: {why}")
        pytest.skip(why)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    require(SHARED.is_dir(), f"../shared not found at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def ontology():
    from corpus_tools.ontology import load_ontology

    return load_ontology()


@pytest.fixture(scope="session", autouse=True)
def pseudonym_key_file(tmp_path_factory) -> Iterator[Path]:
    """Builds key their annotator pseudonyms with a key in the session's temporary folder, never the developer's
    ``~/.config/corpus-tools/pseudonym.key`` (worker and CLI subprocesses inherit the variable)."""
    path = tmp_path_factory.mktemp("pseudonym-key") / "pseudonym.key"
    previous = os.environ.get("CORPUS_TOOLS_PSEUDONYM_KEY_FILE")
    os.environ["CORPUS_TOOLS_PSEUDONYM_KEY_FILE"] = str(path)
    yield path
    if previous is None:
        os.environ.pop("CORPUS_TOOLS_PSEUDONYM_KEY_FILE", None)
    else:
        os.environ["CORPUS_TOOLS_PSEUDONYM_KEY_FILE"] = previous
