from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import datasets
import pytest
from typer.testing import CliRunner

from corpus_tools import __version__
from corpus_tools.cli.app import app
from corpus_tools.ontology import check_ontology

runner = CliRunner()


def run(*args: str) -> subprocess.CompletedProcess:
    """Run the real console entry point (error mapping included) in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "corpus_tools", *args], capture_output=True, text=True, timeout=120
    )


def test_help_and_version():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "ontology" in result.output
    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"corpus-tools {__version__}"


def test_ontology_check_default_exits_0():
    result = run("ontology", "check")
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stderr and result.stdout == ""


def test_ontology_check_broken_exits_1_with_locations(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nversion: 1.0.0\nentities:\n  - {label: A, name_ar: أ, name_en: A, definition: d,"
                    " color: red, hotkey: a}\nrelations: []\n", encoding="utf-8")
    result = run("ontology", "check", str(path))
    assert result.returncode == 1
    assert f"{path}:4, $.entities[0].color" in result.stderr
    assert "Traceback" not in result.stderr


def test_ontology_check_json_is_exactly_the_report(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nversion: 1\nentities: []\nrelations: []\n", encoding="utf-8")
    result = run("ontology", "check", "--json", str(path))
    assert result.returncode == 1
    report, _ = check_ontology(path)
    assert json.loads(result.stdout) == report.to_dict()


def test_missing_ontology_is_one_error_line_exit_3(tmp_path):
    result = run("ontology", "export", "--target", "brat", str(tmp_path / "missing.yaml"))
    assert result.returncode == 3
    assert result.stderr.strip().startswith("Error: cannot read ontology")
    assert len(result.stderr.strip().splitlines()) == 1


def run_in_2_gb(*args: str) -> subprocess.CompletedProcess:
    """The CLI with its address space capped at 2 GB: a reader that reads a device whole fails fast with MemoryError
    (a traceback) rather than filling the machine's memory."""
    import resource

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    return subprocess.run([sys.executable, "-m", "corpus_tools", *args], preexec_fn=cap, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize(("args", "code", "last_line"), [
    (["ontology", "check", "/dev/zero"], 1,
     "error: [ontology-unreadable] /dev/zero: The ontology file holds more than 10,485,760 bytes, far more than an"
     " ontology needs: give the YAML file itself."),
    (["validate", "{export}", "--ontology", "/dev/zero"], 3,
     "Error: invalid ontology /dev/zero: /dev/zero: The ontology file holds more than 10,485,760 bytes, far more"
     " than an ontology needs: give the YAML file itself."),
    (["convert", "{export}", "--from", "labelstudio", "--to", "documents", "--out", "{out}", "--label-map",
      "/dev/zero"], 1,
     "error: [labelmap-unreadable] /dev/zero: The label map file holds more than 10,485,760 bytes, far more than a"
     " label map needs: give the YAML file itself."),
    (["convert", "/dev/zero", "--from", "conll", "--to", "documents", "--out", "{out}"], 3,
     "Error: not a file: /dev/zero (a pipe or a device); give the CoNLL file"),
    (["convert", "/dev/zero", "--from", "doccano", "--to", "documents", "--out", "{out}"], 3,
     "Error: not a file: /dev/zero (a pipe or a device); give the JSONL file"),
    (["convert", "/dev/zero", "--from", "prodigy", "--to", "documents", "--out", "{out}"], 3,
     "Error: not a file: /dev/zero (a pipe or a device); give the JSONL file"),
    (["build", "{export}", "--version", "1.0.0", "--out", "{out}", "--splits", "/dev/zero"], 3,
     "Error: not a file: /dev/zero (a folder, a pipe or a device); give the splits.json file"),
    (["agree", "{export}", "--pseudonym-key", "/dev/zero"], 3,
     "Error: the pseudonym key file /dev/zero is malformed (it must hold 64 hex digits); restore it from your backup,"
     " or move it away to start new pseudonyms (annotators can then no longer be followed across releases)"),
])
def test_a_device_that_never_ends_as_a_small_file_is_refused_not_read_whole(tmp_path, args, code, last_line):
    """/dev/zero as the ontology, a label map, the pseudonym key file, an earlier splits.json or a CoNLL, doccano or
    Prodigy input was read whole (one endless line for the line readers): memory ran out (the machine's, or
    MemoryError under a cap)."""
    export = Path(__file__).parent / "fixtures" / "validate" / "clean.json"
    args = [arg.format(export=export, out=tmp_path / "out.jsonl") for arg in args]
    result = run_in_2_gb(*args)
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    assert last_line in result.stderr.splitlines()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", [["ontology", "export", "--target", "features"], ["ontology", "check", "--json"],
                                  ["--version"], ["releases", "{target}"], ["diff", "{release}", "{release}"]])
def test_a_full_standard_output_is_one_error_line_exit_3(args, tmp_path):
    """Data written to a full device (stdout redirected to /dev/full) raised OSError: a traceback, or, for a short
    output flushed at exit, Python's "Exception ignored" and exit 120."""
    if args[0] in ("releases", "diff"):  # a release, published
        from release_factory import TEXTS_V1, make_release

        from corpus_tools.publish import publish_release

        release, target = make_release(tmp_path, "1.0.0", TEXTS_V1), tmp_path / "releases" / "news"
        publish_release(release, str(target))
        args = [arg.format(release=release, target=target) for arg in args]
    with open("/dev/full", "w", encoding="utf-8") as full:
        result = subprocess.run([sys.executable, "-m", "corpus_tools", *args], stdout=full, stderr=subprocess.PIPE,
                                text=True, timeout=120)
    assert result.returncode == 3, result.stderr
    assert result.stderr.splitlines() == ["Error: cannot write to standard output: No space left on device"]


def test_usage_error_exits_2():
    result = run("ontology", "export", "--target", "nonsense")
    assert result.returncode == 2


@pytest.mark.parametrize("target", ["labelstudio", "export-schema", "features", "brat", "glossary"])
def test_ontology_export_targets(target, ontology):
    result = runner.invoke(app, ["ontology", "export", "--target", target])
    assert result.exit_code == 0, result.output
    out = result.stdout
    if target == "labelstudio":
        root = ET.fromstring(out)
        assert root.find(".//Text").get("granularity") == "symbol"
    elif target == "export-schema":
        assert json.loads(out)["$defs"]["span_label"]["enum"] == list(ontology.entity_labels)
    elif target == "features":
        data = json.loads(out)
        feats = datasets.Features.from_dict(data["tokens"])
        assert feats["ner_tags"].feature.names == list(ontology.bio_labels)
    elif target == "brat":
        assert out.startswith("# Generated by corpus-tools")
    else:
        assert "`NORP`" in out


@pytest.mark.parametrize("command", [["ls", "up", "--data-dir", "{tmp}/ls"], ["demo", "--workdir", "{tmp}/w"]])
@pytest.mark.parametrize("port", ["0", "65536", "99999"])
def test_a_port_out_of_range_is_a_usage_error(tmp_path, command, port):
    args = [a.format(tmp=tmp_path) for a in command]
    result = subprocess.run([sys.executable, "-m", "corpus_tools", *args, "--port", port], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2 and "Invalid value for '--port'" in result.stderr
    assert "Traceback" not in result.stderr and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("score", ["nan", "inf", "-inf"])
def test_a_score_json_cannot_carry_is_a_usage_error(tmp_path, score):
    articles = tmp_path / "a.jsonl"
    articles.write_text("", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "corpus_tools", "ls", "import", str(articles), "--project", "x",
                             "--score", score], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Invalid value for '--score'" in result.stderr


SAMPLE_DOCUMENTS = str(Path(__file__).resolve().parents[1] / "annotations" / "sample" / "documents.jsonl")
CLEAN_EXPORT = str(Path(__file__).resolve().parent / "fixtures" / "validate" / "clean.json")


@pytest.mark.parametrize("args", [
    ["ingest", SAMPLE_DOCUMENTS, "--out"],
    ["convert", SAMPLE_DOCUMENTS, "--from", "documents", "--to", "conll", "--out"],
    ["convert", SAMPLE_DOCUMENTS, "--from", "documents", "--to", "doccano", "--out"],
    ["validate", CLEAN_EXPORT, "--repair-utf16", "--out"],
], ids=["ingest", "convert-conll", "convert-doccano", "validate-repair"])
@pytest.mark.parametrize("depth", [1, 2])
def test_an_output_under_a_file_names_that_file(tmp_path, args, depth):
    """An --out whose folder is a file (or lies under one) says which file is in the way; the system's words
    were "File exists" or "Not a directory", or "folder ... does not exist" for a file that exists."""
    blocking = tmp_path / "a-file"
    blocking.write_text("x", encoding="utf-8")
    out = blocking / "sub" / "out.jsonl" if depth == 2 else blocking / "out.jsonl"
    result = run(*args, str(out))
    assert result.returncode == 3, result.stderr
    assert result.stderr.strip().splitlines()[-1] == f"Error: cannot write {out}: {blocking} is a file, not a folder"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"] and blocking.read_text(encoding="utf-8") == "x"


def test_an_output_in_a_missing_folder_says_so(tmp_path):
    out = tmp_path / "nowhere" / "out.conll"
    result = run("convert", SAMPLE_DOCUMENTS, "--from", "documents", "--to", "conll", "--out", str(out))
    assert result.returncode == 3
    assert result.stderr.strip().splitlines()[-1] == f"Error: cannot write {out}: folder {out.parent} does not exist"
