"""diff_releases between two builds whose differences the test made on purpose."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import build_inputs as B
import pytest

from corpus_tools.build import build_release
from corpus_tools.diff import diff_releases


def _export(articles: list[B.Article]) -> list[dict]:
    return [B.task(n + 1, art, [B.annotation(500 + n, art.result(f"r{n}-"))]) for n, art in enumerate(articles)]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    root = tmp_path_factory.mktemp("diff")
    old = [B.news_article(i) for i in range(10)]
    new = [B.news_article(i) for i in range(1, 12)]  # art-0000 removed; art-0010, art-0011 added
    new[0] = B.news_article(1, variant=1)  # art-0001: text changed
    by_id = {a.id: a for a in new}
    a2 = by_id["art-0002"]
    a2.spans = [(k, s, e, "LOC" if k == "city2" else lab) for k, s, e, lab in a2.spans]  # relabelled span
    a3 = by_id["art-0003"]
    a3.spans = [sp for sp in a3.spans if sp[0] != "un"]  # removed span
    a4 = by_id["art-0004"]
    a4.relations = [("per", "city", "PHYS.Located"), ("per", "org", "ORG-AFF.Membership"),  # relabelled
                    ("un", "city2", "GEN-AFF.Org-Location-Origin")]  # added relation
    v1, v2 = root / "v1", root / "v2"
    build_release(B.write_export(root / "old.json", _export(old)), version="1.0.0", out=v1)
    build_release(B.write_export(root / "new.json", _export(new)), version="1.1.0", out=v2, previous=v1)
    return v1, v2, old, new


def test_diff_counts(pair):
    v1, v2, old, new = pair
    diff = diff_releases(v1, v2)
    assert (diff.old_version, diff.new_version) == ("1.0.0", "1.1.0")
    assert diff.documents_added == ["art-0010", "art-0011"]
    assert diff.documents_removed == ["art-0000"]
    assert diff.documents_text_changed == ["art-0001"]
    assert diff.documents_annotation_changed == ["art-0002", "art-0003", "art-0004"]
    assert diff.documents_moved == []
    assert diff.spans.to_dict() == {"added": 6 + 12, "removed": 6 + 6 + 1, "relabelled": 1}
    assert diff.relations.to_dict() == {"added": 2 + 4 + 1, "removed": 2 + 2, "relabelled": 1}
    old_spans = sum(len(a.spans) for a in old)
    new_spans = sum(len(a.spans) for a in new)
    assert old_spans - diff.spans.removed - diff.spans.relabelled + diff.spans.added + diff.spans.relabelled \
        == new_spans
    before = Counter(lab for a in old for *_, lab in a.spans)
    after = Counter(lab for a in new for *_, lab in a.spans)
    assert diff.entity_labels == {lab: (before[lab], after[lab]) for lab in sorted(before | after)}
    rel_before = Counter(lab for a in old for *_, lab in a.relations)
    rel_after = Counter(lab for a in new for *_, lab in a.relations)
    assert diff.relation_labels == {lab: (rel_before[lab], rel_after[lab]) for lab in sorted(rel_before | rel_after)}
    assert sum(new for _, new in (c["documents"] for c in diff.splits.values())) == len(new)
    as_dict = diff.to_dict()
    assert as_dict["changed"] is True and json.dumps(as_dict)
    assert as_dict["entity_labels"]["LOC"]["delta"] == 1


def test_card_changelog_comes_from_the_diff(pair):
    _, v2, _, _ = pair
    readme = (v2 / "README.md").read_text(encoding="utf-8")
    assert "- Entity spans: 18 added, 13 removed, 1 relabelled." in readme
    assert "- Relations: 7 added, 4 removed, 1 relabelled." in readme
    assert "2 documents added, 1 removed, 1 with changed text, 3 with changed annotations, 0 moved" in readme


def test_identical_releases_have_no_differences(pair):
    v1, _, _, _ = pair
    diff = diff_releases(v1, v1)
    assert not diff.changed and diff.spans.to_dict() == {"added": 0, "removed": 0, "relabelled": 0}


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "corpus_tools", *args], capture_output=True, text=True,
                          timeout=300)


def test_diff_cli(pair):
    v1, v2, _, _ = pair
    result = run_cli("diff", str(v1), str(v2), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == diff_releases(v1, v2).to_dict()
    table = run_cli("diff", str(v1), str(v2))
    assert table.returncode == 0 and "spans added / removed / relabelled" in table.stdout
    assert "18 / 13 / 1" in table.stdout
    same = run_cli("diff", str(v1), str(v1))
    assert same.returncode == 0 and "No differences." in same.stdout
    missing = run_cli("diff", str(v1), str(v1.parent / "nope"))
    assert missing.returncode != 0 and "Traceback" not in missing.stderr and "Error:" in missing.stderr


def test_label_names_are_read_without_datasets_and_equal_its_reading(pair):
    import pyarrow.parquet as pq
    from datasets import Features

    from corpus_tools.diff import _classlabel_names, _label_names
    from corpus_tools.release import read_manifest

    v1 = pair[0]
    schema = pq.read_schema(v1 / read_manifest(v1)["configs"]["documents"]["train"]["files"][0])
    features = Features.from_arrow_schema(schema)
    expected = (features["entities"].feature["label"].names, features["relations"].feature["label"].names)
    assert _label_names(schema) == expected
    # the older shape of a list of structs, and shapes that are not a ClassLabel list
    label = {"names": ["PER", "ORG"], "_type": "ClassLabel"}
    assert _classlabel_names([{"id": {"dtype": "string", "_type": "Value"}, "label": label}]) == ["PER", "ORG"]
    for odd in ({"feature": {"label": {"dtype": "int64", "_type": "Value"}}, "_type": "List"}, {"_type": "Value"}):
        with pytest.raises(TypeError):
            _classlabel_names(odd)


def test_a_build_with_previous_does_not_import_datasets(pair, tmp_path):
    v1, _, old, _ = pair
    export = B.write_export(tmp_path / "export.json", _export(old))
    script = ("import sys; from pathlib import Path; from corpus_tools.build import build_release; "
              f"build_release(Path({str(export)!r}), version='1.0.1', out=Path({str(tmp_path / 'v')!r}), "
              f"previous=Path({str(v1)!r})); print('datasets' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
    assert "Changelog" in (tmp_path / "v" / "README.md").read_text(encoding="utf-8")
