"""Options of `build` that a maintainer can get wrong: each is refused before anything is written (exit 2 for a
usage error, 3 when an input cannot be used), or reported, and never silently changes the release."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import build_inputs as B
import pytest

from corpus_tools.build.driver import build_release, check_date
from corpus_tools.errors import InputError, OutputError, ReleaseError
from corpus_tools.release.card import extract_changelog
from corpus_tools.release.manifest import read_manifest
from corpus_tools.release.splits import read_splits


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "corpus_tools", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    return B.write_export(tmp_path_factory.mktemp("options") / "export.json", B.simple_export(12))


@pytest.mark.parametrize("ratios", ["all=50,train=50", "ALL=50,train=50", f"{'x' * 65}=100"])
def test_split_names_datasets_or_the_file_system_refuse_are_usage_errors(export, tmp_path, ratios):
    result = cli("build", str(export), "--version", "1.0.0", "--out", str(tmp_path / "out"), "--ratios", ratios)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "at most 64 characters, not 'all'" in " ".join(result.stderr.split())
    assert not (tmp_path / "out").exists()
    longest = cli("build", str(export), "--version", "1.0.0", "--out", str(tmp_path / "ok"), "--ratios",
                  f"{'x' * 64}=100", "-q")
    assert longest.returncode == 0, longest.stderr
    assert [p.name.split("-")[0] for p in (tmp_path / "ok" / "data" / "documents").iterdir()] == ["x" * 64]


def test_a_splits_file_naming_a_split_all_or_a_document_twice_is_refused(export, tmp_path):
    built = build_release(export, version="1.0.0", out=tmp_path / "v1")
    plan = json.loads((built.out / "splits.json").read_text(encoding="utf-8"))
    doc_id = sorted(plan["assignments"])[0]
    renamed = dict(plan, assignments={**plan["assignments"], doc_id: "all"})
    (tmp_path / "all.json").write_text(json.dumps(renamed), encoding="utf-8")
    with pytest.raises(InputError, match="invalid split names"):
        read_splits(tmp_path / "all.json", tmp_path / "earlier.sqlite")
    text = (built.out / "splits.json").read_text(encoding="utf-8")
    twice = text.replace(f'"{doc_id}": ', f'"{doc_id}": "test", "{doc_id}": ', 1)
    (tmp_path / "twice.json").write_text(twice, encoding="utf-8")
    assert json.loads(twice)["assignments"][doc_id] == plan["assignments"][doc_id]  # Python's reader: last wins
    with pytest.raises(InputError, match=f"'{doc_id}' is a key twice"):
        read_splits(tmp_path / "twice.json", tmp_path / "earlier.sqlite")


@pytest.mark.parametrize("version", ["01.0.0", "1.00.0", "١.٠.٠", "1٠.0.0"])
def test_versions_publish_would_refuse_are_refused_by_build(export, tmp_path, version):
    result = cli("build", str(export), "--version", version, "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("workers", ["257", "99999999999999999999"])
def test_a_worker_count_beyond_the_limit_is_a_usage_error(export, tmp_path, workers):
    """--workers 10000 forked ten thousand processes (257 here, so that this test forks no more should the limit
    go), and a count beyond a C int raised OverflowError (a traceback) after the build had started."""
    result = cli("build", str(export), "--version", "1.0.0", "--out", str(tmp_path / "out"), "--workers", workers)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "Invalid value for '--workers': Input should be less than or equal to 256" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_worker_count_beyond_the_limit_is_refused_before_the_build(export, tmp_path):
    with pytest.raises(InputError, match="at most 256 worker processes"):
        build_release(export, version="1.0.0", out=tmp_path / "out", workers=10**20)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_check_release_refuses_a_manifest_version_with_a_leading_zero(export, tmp_path):
    out = build_release(export, version="1.0.0", out=tmp_path / "r").out
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    manifest["version"] = "01.0.0"
    (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ReleaseError, match=r"\$\.version"):
        read_manifest(out)


def test_a_missing_release_folder_is_exit_3(tmp_path):
    for args in (["check-release", str(tmp_path / "nope")],
                 ["publish", str(tmp_path / "nope"), "--to", str(tmp_path / "releases")]):
        result = cli(*args)
        assert result.returncode == 3, (args, result.stderr)
        assert "does not exist" in result.stderr and "Traceback" not in result.stderr
    (tmp_path / "file").write_text("x", encoding="utf-8")
    result = cli("check-release", str(tmp_path / "file"))
    assert result.returncode == 2 and "is a file" in result.stderr  # typer's own check of a folder argument


def test_previous_must_be_a_release_folder_with_its_splits(export, tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        build_release(export, version="1.1.0", out=tmp_path / "x", previous=tmp_path / "nope")
    v1 = build_release(export, version="1.0.0", out=tmp_path / "v1", ratios=(("train", 0.5), ("test", 0.5))).out
    (v1 / "splits.json").unlink()
    with pytest.raises(ReleaseError, match="has no splits.json"):
        build_release(export, version="1.1.0", out=tmp_path / "v2", previous=v1)
    assert not (tmp_path / "v2").exists()


def test_out_inside_the_previous_release_is_refused(export, tmp_path):
    v1 = build_release(export, version="1.0.0", out=tmp_path / "v1").out
    with pytest.raises(OutputError, match="inside the previous release"):
        build_release(export, version="1.1.0", out=v1 / "next", previous=v1)
    assert not (v1 / "next").exists()


def test_an_unused_gold_document_is_a_warning(export, tmp_path):
    text = "بيروت عاصمة لبنان."
    gold = tmp_path / "gold.jsonl"
    doc = {"id": "not-in-the-export", "text": text,
           "entities": [{"id": "e1", "start": 0, "end": len("بيروت"), "text": "بيروت", "label": "GPE"}],
           "relations": []}
    gold.write_text(json.dumps(doc, ensure_ascii=False) + "\n", encoding="utf-8")
    result = build_release(export, version="1.0.0", out=tmp_path / "r", gold=gold)
    unused = [p for p in result.report.problems if p.code == "build-gold-unused"]
    assert len(unused) == 1 and "not-in-the-export" in unused[0].message
    assert result.report.valid  # a warning


def test_a_label_studio_export_given_as_gold_is_named_as_such(export, tmp_path):
    result = cli("build", str(export), "--version", "1.0.0", "--out", str(tmp_path / "r"), "--gold", str(export))
    assert result.returncode == 3 and "Traceback" not in result.stderr
    said = " ".join(result.stderr.split())
    assert "is a JSON array (a Label Studio export?)" in said and "document JSONL" in said
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("date", ["2026-13-45", "yesterday", "2026-02-30", "2026-1-5", "2026-01-05\nx"])
def test_a_release_date_must_be_a_calendar_date(export, tmp_path, date):
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        check_date(date)
    result = cli("build", str(export), "--version", "1.0.0", "--out", str(tmp_path / "r"), "--date", date)
    assert result.returncode == 2 and not (tmp_path / "r").exists()


@pytest.mark.parametrize("name", ["org/..", "..", "org/", "/x", "a/./b"])
def test_a_dataset_name_with_an_empty_dot_or_dotdot_part_is_refused(export, tmp_path, name):
    result = cli("build", str(export), "--version", "1.0.0", "--out", str(tmp_path / "r"), "--name", name)
    assert result.returncode == 2 and "write NAME or ORG/NAME" in " ".join(result.stderr.split())
    assert not (tmp_path / "r").exists()


def test_card_texts_cannot_hold_a_line_break(export, tmp_path):
    for option in ("--license", "--rights", "--name"):
        result = cli("build", str(export), "--version", "1.0.0", "--out", str(tmp_path / "r"), option, "a\nb")
        assert result.returncode == 2 and "control character" in result.stderr, option
    assert not (tmp_path / "r").exists()


def test_a_changelog_marker_quoted_in_a_card_text_does_not_cut_the_changelog(export, tmp_path):
    marker_end, marker_start = "<!-- changelog:end -->", "<!-- changelog:start -->"
    v1 = build_release(export, version="1.0.0", out=tmp_path / "v1", name=marker_end, rights=marker_start,
                       date="2026-01-05").out
    earlier = extract_changelog((v1 / "README.md").read_text(encoding="utf-8"))
    assert earlier.startswith("### v1.0.0 (2026-01-05)") and "First release" in earlier
    assert marker_end not in earlier and marker_start not in earlier
    v2 = build_release(export, version="1.1.0", out=tmp_path / "v2", previous=v1, name=marker_end,
                       rights=marker_start).out
    entries = extract_changelog((v2 / "README.md").read_text(encoding="utf-8"))
    titles = [line for line in entries.splitlines() if line.startswith("### ")]
    assert titles == ["### v1.1.0", "### v1.0.0 (2026-01-05)"]


def _reordered_ontology(tmp_path: Path, version: str) -> Path:
    """The bundled ontology with its first two entity labels swapped (their ClassLabel ids change)."""
    import yaml

    data = yaml.safe_load((Path(__file__).resolve().parents[1] / "annotations" / "ontology.yaml").read_text(
        encoding="utf-8"))
    data["entities"][0], data["entities"][1] = data["entities"][1], data["entities"][0]
    data["version"] = version
    path = tmp_path / f"ontology-{version}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_reordered_labels_are_in_the_changelog_and_warned_within_a_major_version(export, tmp_path):
    from corpus_tools.ontology import load_ontology
    from corpus_tools.release.diff import diff_releases

    v1 = build_release(export, version="1.0.0", out=tmp_path / "v1").out
    first, second = load_ontology().entity_labels[:2]
    reordered = load_ontology(_reordered_ontology(tmp_path, "0.2.0"))
    minor = build_release(export, version="1.1.0", out=tmp_path / "v11", previous=v1, ontology=reordered)
    [warning] = [p for p in minor.report.problems if p.code == "build-labels-changed"]
    assert warning.severity == "warning" and f"'{first}'" in warning.message and f"'{second}'" in warning.message
    entry = extract_changelog((minor.out / "README.md").read_text(encoding="utf-8")).split("### v1.0.0")[0]
    assert "Ontology: `arabic-news-ace-core` 0.1.0 → `arabic-news-ace-core` 0.2.0." in entry
    assert f"ClassLabel ids changed: `{first}` 0 → 1, `{second}` 1 → 0" in entry
    changes = diff_releases(v1, minor.out).to_dict()["label_names"]
    assert changes == {"entity": {"added": [], "removed": [], "ids_changed": {first: [0, 1], second: [1, 0]}}}
    major = build_release(export, version="2.0.0", out=tmp_path / "v2", previous=v1, ontology=reordered)
    assert not [p for p in major.report.problems if p.code == "build-labels-changed"]  # a major version says it
    same = build_release(export, version="1.2.0", out=tmp_path / "v12", previous=v1)
    assert not [p for p in same.report.problems if p.code == "build-labels-changed"]
    assert "label names changed" not in extract_changelog((same.out / "README.md").read_text(encoding="utf-8"))
