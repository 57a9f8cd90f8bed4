"""Pytest plugin: the Hub-protocol test server, started before huggingface_hub or datasets is imported.

Both libraries read ``HF_ENDPOINT`` (and huggingface_hub ``HF_HUB_DISABLE_XET``) at import time, so this module
starts the server and sets the environment when it is imported, which ``tests/conftest.py`` does through
``pytest_plugins`` before any test module is collected. Subprocesses started by tests inherit the environment
and reach the same server (it runs in a background thread of the pytest process).

Fixtures: ``hub_server`` (session, the :class:`hubserver.HubServer`), ``hub_api`` (an ``HfApi`` for it) and
``hub_repo_id`` (a fresh, not yet created ``test-org/...`` dataset id per test).
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import sys
import tempfile

import pytest
from hubserver import HubServer

_PRE_IMPORTED = sorted(name for name in ("huggingface_hub", "datasets") if name in sys.modules)
_HF_HOME = tempfile.mkdtemp(prefix="corpus-tools-hf-home-")
SERVER = HubServer().start()
_ids = itertools.count(1)

os.environ.update({
    "HF_ENDPOINT": SERVER.url,
    "HF_HUB_DISABLE_XET": "1",
    "HF_TOKEN": SERVER.token,
    "HF_HOME": _HF_HOME,
    "HF_HUB_CACHE": os.path.join(_HF_HOME, "hub"),
    "HF_XET_CACHE": os.path.join(_HF_HOME, "xet"),
    "HF_ASSETS_CACHE": os.path.join(_HF_HOME, "assets"),
    "HF_DATASETS_CACHE": os.path.join(_HF_HOME, "datasets"),
    "HF_TOKEN_PATH": os.path.join(_HF_HOME, "token"),
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
})
for _name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_IMPLICIT_TOKEN"):
    os.environ.pop(_name, None)


def _close() -> None:
    SERVER.close()
    shutil.rmtree(_HF_HOME, ignore_errors=True)


def pytest_unconfigure(config: pytest.Config) -> None:
    _close()


@pytest.fixture(scope="session")
def hub_server() -> HubServer:
    """The running Hub-protocol server that ``HF_ENDPOINT`` points at."""
    if _PRE_IMPORTED:
        pytest.fail(f"{', '.join(_PRE_IMPORTED)} was imported before tests/hub_fixtures.py set HF_ENDPOINT; "
                    "list 'hub_fixtures' first in pytest_plugins of tests/conftest.py")
    from huggingface_hub import constants

    if constants.ENDPOINT != SERVER.url or not constants.HF_HUB_DISABLE_XET:
        pytest.fail(f"huggingface_hub is not wired to the test server (ENDPOINT={constants.ENDPOINT})")
    return SERVER


@pytest.fixture
def hub_api(hub_server: HubServer):
    """An ``HfApi`` for the test server with the test token (the environment provides the same defaults)."""
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub_server.url, token=hub_server.token)


@pytest.fixture
def hub_repo_id(request: pytest.FixtureRequest, hub_server: HubServer) -> str:
    """A dataset repo id unique to this test, not created yet (``test-org/<test-name>-<n>``)."""
    name = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name).strip("-")[:60]
    return f"test-org/{name}-{next(_ids)}"
