"""A release of another layout (a column every release has is missing from a config, in its files and its card
alike, as in a release an older corpus-tools built) is refused by check-release and publish with one located
problem per config, never read as if it had the column."""

from __future__ import annotations

from pathlib import Path

import build_inputs as B
import pyarrow.parquet as pq
import pytest
from datasets import Features
from release_factory import rehash
from typer.testing import CliRunner

from corpus_tools.build.driver import build_release
from corpus_tools.cli.app import app
from corpus_tools.errors import ReleaseError
from corpus_tools.publish import load_release
from corpus_tools.release.checks import check_release
from corpus_tools.release.manifest import read_manifest


@pytest.fixture
def older_layout(tmp_path: Path) -> Path:
    """A release with a view whose documents configs have no text_sha256 column, in the files and the card."""
    export = B.write_export(tmp_path / "export.json", B.simple_export(12))
    out = build_release(export, version="1.0.0", out=tmp_path / "release", name="test-org/older",
                        views=["plain=diacritics"]).out
    for config in ("documents", "documents-plain"):
        for split in read_manifest(out)["configs"][config]:
            for rel in read_manifest(out)["configs"][config][split]["files"]:
                table = pq.read_table(out / rel).drop_columns(["text_sha256"])
                features = Features.from_arrow_schema(table.schema)  # its huggingface metadata, as the card's
                pq.write_table(table.cast(features.arrow_schema), out / rel)
    card = (out / "README.md").read_text(encoding="utf-8")
    line = "  - name: text_sha256\n    dtype: string\n"
    assert card.count(line) == 2  # the documents config and its view's
    (out / "README.md").write_text(card.replace(line, ""), encoding="utf-8")
    rehash(out)
    return out


def test_each_config_without_a_layout_column_is_one_problem_and_its_files_are_not_read(older_layout):
    report = check_release(older_layout)  # no ontology: the card's features are the reference
    assert [(p.code, p.file, p.message.split(" lack ")[0]) for p in report.problems] == [
        ("release-layout-columns", "README.md", "dataset_info features of documents"),
        ("release-layout-columns", "README.md", "dataset_info features of documents-plain"),
    ]
    assert "the column text_sha256 that this corpus-tools writes" in report.problems[0].message


def test_publish_refuses_a_release_of_another_layout_without_a_traceback(older_layout, tmp_path):
    with pytest.raises(ReleaseError, match="failed check-release with 2 errors"):
        load_release(older_layout)
    result = CliRunner().invoke(app, ["publish", str(older_layout), "--to", str(tmp_path / "target")])
    assert result.exit_code == 1, result.output
    assert "release-layout-columns" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "target" / "v1.0.0").exists()
