"""The maintainer quickstart of docs/quickstart.md, run as written against a real Label Studio and the Hub server.

The commands are read from the document's "Maintainers" block, not copied here, so a wrong step in the doc fails
this test. The only changes are the placeholders a reader fills in (listed in ``PLACEHOLDERS``), a free port for
``ls up``, and the steps a person does between the commands: annotating (done through the API with
``ls annotate``, as an annotator would in the browser) and changing one annotation before the next release.
The ML teams' Python block then runs against the published version.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, require

pytestmark = [pytest.mark.labelstudio, pytest.mark.hub, pytest.mark.slow]

QUICKSTART = REPO / "docs" / "quickstart.md"
SAMPLE = REPO / "annotations" / "sample"


def section(title: str) -> str:
    text = QUICKSTART.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"docs/quickstart.md has no section {title!r}"
    return match.group(1)


def code_block(text: str, lang: str) -> str:
    match = re.search(rf"```{lang}\n(.*?)```", text, re.S)
    assert match, f"no {lang} block"
    return match.group(1)


def maintainer_commands() -> list[list[str]]:
    """Each command line of the block, without its trailing comment, split as a shell would."""
    commands = []
    for line in code_block(section("Maintainers"), "bash").splitlines():
        words = shlex.split(line, comments=True)
        if words:
            assert words[0] == "corpus-tools", f"not a corpus-tools command: {line}"
            commands.append(words[1:])
    return commands


def test_the_quickstart_block_is_read_from_the_doc():
    commands = maintainer_commands()
    steps = [" ".join(c[:2]) if c[0] == "ls" else c[0] for c in commands]
    # The chain the doc promises, in its order; a step dropped or reordered in the doc fails here first.
    assert steps == ["ls up", "ls setup", "ingest", "ls import", "ls export", "validate", "build", "publish",
                     "publish", "build", "diff", "releases"]


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "corpus_tools", *args], cwd=cwd, env=env, text=True,
                            capture_output=True, timeout=900)
    assert result.returncode == 0, f"corpus-tools {shlex.join(args)} exited {result.returncode}:\n{result.stderr}"
    return result


def relabel_one(documents: Path, out: Path) -> str:
    """Write one document with one span outside relations relabelled (GPE <-> LOC); return its id."""
    for line in documents.read_text(encoding="utf-8").splitlines():
        doc = json.loads(line)
        related = {r["head"] for r in doc["relations"]} | {r["tail"] for r in doc["relations"]}
        for entity in doc["entities"]:
            if entity["id"] not in related and entity["label"] in ("GPE", "LOC"):
                entity["label"] = "LOC" if entity["label"] == "GPE" else "GPE"
                out.write_text(json.dumps(doc, ensure_ascii=False) + "\n", encoding="utf-8")
                return doc["id"]
    raise AssertionError("no span outside relations in the sample")


def test_the_maintainer_quickstart_runs_as_written(tmp_path, hub_repo_id, hub_server):
    from corpus_tools.labelstudio.server import LS_VERSION, free_port, installed_version, server_binary

    require(installed_version(server_binary()) == LS_VERSION, f"label-studio {LS_VERSION} is not installed")
    shutil.copytree(SAMPLE / "articles", tmp_path / "raw")
    documents = SAMPLE / "documents.jsonl"
    # A model's pre-annotations: the sample's own documents, as a model would write them.
    shutil.copy(documents, tmp_path / "model.jsonl")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABEL_STUDIO_")}  # `ls up` credentials only

    placeholders = {"ORG/NAME": hub_repo_id}
    port = str(free_port())
    commands = maintainer_commands()
    try:
        for args in commands:
            args = [a.replace("ORG/NAME", placeholders["ORG/NAME"]) for a in args]
            if args[:2] == ["ls", "up"]:
                args += ["--port", port]
            if args[:2] == ["ls", "export"] and "export.json" in args:
                # The annotators' work, through the API as in the browser.
                run(["ls", "annotate", str(documents), "--project", "Arabic news"], tmp_path, env)
            if args[0] == "build" and "export2.json" in args:
                changed = relabel_one(documents, tmp_path / "changed.jsonl")
                run(["ls", "annotate", str(tmp_path / "changed.jsonl"), "--project", "Arabic news", "--update"],
                    tmp_path, env)
                run(["ls", "export", "--project", "Arabic news", "--out", "export2.json"], tmp_path, env)
            result = run(args, tmp_path, env)
            if args[0] == "diff":
                assert changed in result.stdout
            if args[0] == "releases":
                assert "v1.0.0" in result.stdout
        assert (tmp_path / "build" / "v1.1.0" / "README.md").is_file()

        # The ML teams' block, against the version just published.
        block = code_block(section("ML teams"), "python").replace("ORG/NAME", hub_repo_id)
        names: dict[str, object] = {}
        exec(compile(block, "docs/quickstart.md (ML teams)", "exec"), names)  # noqa: S102 - the doc's own code
        assert len(names["docs"]["train"]) > 0
        assert set(names["tokens"]["train"].column_names) >= {"tokens", "ner_tags"}
    finally:
        subprocess.run([sys.executable, "-m", "corpus_tools", "ls", "down"], cwd=tmp_path, env=env,
                       capture_output=True, timeout=120)
