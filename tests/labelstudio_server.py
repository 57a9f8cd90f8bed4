"""Pytest plugin: a real Label Studio server for the whole test session.

Loaded from ``tests/conftest.py`` through ``pytest_plugins``.  The server runs from its own
cached virtualenv (``LS_BIN`` or ``~/.cache/corpus-tools/ls-venv-<version>``); each session
copies the cached template data dir (built once with ``label-studio init``, ~40 s) into the
pytest tmp dir and starts on a free 127.0.0.1 port (~4 s).  Locally a missing server skips the
tests that need it; under CI=true it fails them (``conftest.require``).

Fixtures:

* ``ls_server`` (session): a :class:`LabelStudioTestServer` with ``url``, ``api_key`` (legacy
  token), ``email``, ``password``, ``data_dir``, ``env()`` (the environment for CLI subprocesses),
  ``client()``, ``personal_access_token()`` (created once, cached: Label Studio allows one per
  user) and ``kill()`` / ``restart()`` for crash tests;
* ``ls_client`` (session): a connected :class:`~corpus_tools.labelstudio.client.LabelStudioClient`;
* ``ls_project`` (function): a factory ``ls_project(ontology=None) -> ProjectInfo`` creating a new
  project from the ontology with a unique title.

Import nothing heavy at module level: ``hub_fixtures`` must set its environment first.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import require

_titles = itertools.count(1)

# Test data shared by the Label Studio tests: Arabic articles with an emoji and a leading clitic.
EMOJI_TEXT = "😀 زار محمد بن سلمان باريس 🇫🇷 أمس"
CLITIC_TEXT = "وصل الوفد أمس إلى العاصمة\nوبغداد تستعد للقمة"


def article(article_id: str, text: str) -> dict:
    return {"id": article_id, "text": text, "title": "عنوان", "dateline": None, "source": "الوطن", "lang": "ar",
            "paragraphs": [{"start": 0, "end": len(text)}], "source_path": f"{article_id}.txt",
            "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def arabic_articles(n: int, prefix: str = "art") -> list[dict]:
    words = "قال الرئيس إن الحكومة ستعمل على تعزيز التعاون مع الدول المجاورة في الاقتصاد والأمن".split()
    return [article(f"{prefix}-{i:05d}", f"{i} " + " ".join(words[(i + k) % len(words)] for k in range(60)))
            for i in range(n)]


@dataclass
class LabelStudioTestServer:
    """One Label Studio started on a copy of the template data dir."""

    url: str
    api_key: str = field(repr=False)
    email: str
    password: str = field(repr=False)
    data_dir: Path
    log_path: Path
    binary: Path
    _running: object = field(repr=False, default=None)
    _pat: str | None = field(repr=False, default=None)

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def env(self, **extra: str) -> dict[str, str]:
        """The environment for a ``corpus-tools`` subprocess pointed at this server."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("LABEL_STUDIO_")}
        env.update({"LABEL_STUDIO_URL": self.url, "LABEL_STUDIO_API_KEY": self.api_key, **extra})
        return env

    def personal_access_token(self) -> str:
        """The admin's personal access token (a JWT), created once per session and cached."""
        if self._pat is None:
            import httpx

            response = httpx.post(f"{self.url}/api/token/", headers={"Authorization": f"Token {self.api_key}"},
                                  timeout=30)
            if response.status_code == 409:
                pytest.fail("the admin already has a personal access token; use ls_server.personal_access_token()")
            response.raise_for_status()
            self._pat = str(response.json()["token"])
        return self._pat

    def client(self):
        from corpus_tools.labelstudio.client import Connection, LabelStudioClient

        return LabelStudioClient.connect(Connection(self.url, self.api_key, "test"))

    def start(self, *, port: int | None = None) -> None:
        from corpus_tools.labelstudio.server import free_port, port_is_free, start_server

        wanted = port or self.port
        if not port_is_free(wanted):
            wanted = free_port()
        running = start_server(self.data_dir, port=wanted, binary=self.binary, timeout=120)
        self._running = running
        self.url = running.url

    def kill(self) -> None:
        """SIGKILL the server (a crash: no clean shutdown, open transactions die)."""
        if self._running is not None:
            self._running.kill()

    def stop(self) -> None:
        if self._running is not None:
            self._running.stop()

    def alive(self) -> bool:
        return self._running is not None and self._running.alive()

    def restart(self) -> None:
        """Stop (if still running) and start again on the same data dir, preferably on the same port."""
        self.stop()
        self.start(port=self.port)


@pytest.fixture(scope="session")
def ls_server(tmp_path_factory: pytest.TempPathFactory):
    """A running Label Studio (session-scoped); skipped locally, a failure under CI=true, when not installed."""
    from corpus_tools.labelstudio.server import (
        LS_VERSION,
        copy_template,
        free_port,
        installed_version,
        server_binary,
    )

    binary = server_binary()
    require(installed_version(binary) == LS_VERSION,
            f"label-studio {LS_VERSION} is not installed at {binary} (run `make ls-venv` or `corpus-tools ls install`)")
    data_dir = tmp_path_factory.mktemp("labelstudio") / "data"
    credentials = copy_template(data_dir, binary=binary)
    server = LabelStudioTestServer(
        url=f"http://127.0.0.1:{free_port()}", api_key=credentials.api_key, email=credentials.email,
        password=credentials.password, data_dir=data_dir, log_path=data_dir / "label-studio.log", binary=binary,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def ls_client(ls_server: LabelStudioTestServer):
    return ls_server.client()


@pytest.fixture
def ls_project(ls_server: LabelStudioTestServer, request: pytest.FixtureRequest):
    """A factory creating a fresh project from an ontology (default: the bundled one)."""
    from corpus_tools.artefacts import ontology_to_labelstudio_config
    from corpus_tools.labelstudio.project import ontology_to_instructions
    from corpus_tools.ontology import load_ontology

    def make(ontology=None):
        onto = ontology or load_ontology()
        title = f"{request.node.name[5:40]} #{next(_titles)}"
        return ls_server.client().create_project(
            title, ontology_to_labelstudio_config(onto), expert_instruction=ontology_to_instructions(onto)
        )

    return make
