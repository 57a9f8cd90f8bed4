"""An existing corpus into Label Studio as pre-annotations, end to end through the CLI: the Wojood excerpt
(../shared/fixtures/external, read in place, never copied) converted with the shipped label map, imported as
predictions on tasks made from its rebuilt texts, exported, validated."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest
from conftest import REPO

pytestmark = pytest.mark.labelstudio

# The Wojood README's per-type entity counts (nested ones included) of the types the map keeps:
# PERS 7, ORG 8, GPE 18, NORP 8, FAC 1 (LOC: none in the excerpt).
EXPECTED = {"PER": 7, "ORG": 8, "GPE": 18, "NORP": 8, "FAC": 1}


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "corpus_tools", *args], capture_output=True, text=True, env=env,
                          timeout=600)


def test_wojood_with_a_label_map_becomes_predictions_that_validate(ls_server, shared_dir, tmp_path):
    wojood = shared_dir / "fixtures" / "external" / "wojood-val-excerpt.txt"
    env = ls_server.env(CORPUS_TOOLS_CACHE=str(tmp_path / "cache"))
    documents = tmp_path / "wojood.jsonl"
    converted = run("convert", str(wojood), "--from", "conll", "--to", "documents", "--out", str(documents),
                    "--label-map", str(REPO / "annotations" / "labelmaps" / "wojood.yaml"), "--json", env=env)
    assert converted.returncode == 0, converted.stderr
    report = json.loads(converted.stdout)
    assert [p["code"] for p in report["problems"]] == ["convert-label-dropped"]

    project = json.loads(run("ls", "setup", "--project", "wojood predictions", "--json", env=env).stdout)
    project_id = str(project["project_id"])
    imported = run("ls", "import", "--project", project_id, "--predictions", str(documents),
                   "--model-version", "wojood-gold", "--json", env=env)
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["stats"]["tasks_imported"] == 25  # one task per sentence
    again = run("ls", "import", "--project", project_id, "--predictions", str(documents),
                "--model-version", "wojood-gold", "--json", env=env)
    assert json.loads(again.stdout)["stats"]["tasks_imported"] == 0  # idempotent

    export = tmp_path / "export.json"
    assert run("ls", "export", "--project", project_id, "--out", str(export), env=env).returncode == 0
    validated = run("validate", str(export), "--json", env=env)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert json.loads(validated.stdout)["valid"] is True

    tasks = json.loads(export.read_text(encoding="utf-8"))
    assert len(tasks) == 25
    labels: Counter[str] = Counter()
    for task in tasks:
        text = task["data"]["text"]
        (prediction,) = task["predictions"]
        assert prediction["model_version"] == "wojood-gold"
        for item in prediction["result"]:
            if item["type"] == "labels":
                value = item["value"]
                assert text[value["start"]:value["end"]] == value["text"]
                labels.update(value["labels"])
    assert dict(labels) == EXPECTED
    # Every prediction is the converted document's entities, exactly (ids, offsets and labels).
    by_id = {json.loads(line)["id"]: json.loads(line) for line in documents.read_text(encoding="utf-8").splitlines()}
    for task in tasks:
        doc = by_id[task["data"]["article_id"]]
        assert task["data"]["text"] == doc["text"]
        spans = sorted((r["value"]["start"], r["value"]["end"], r["value"]["labels"][0])
                       for r in task["predictions"][0]["result"] if r["type"] == "labels")
        assert spans == sorted((e["start"], e["end"], e["label"]) for e in doc["entities"])
