"""The working stores on disk (keys.private_database) failing part way: a failure to run, nothing half-written.

The stores of keys seen (validation, the build's merge, check-release, diff, ingest) are SQLite databases whose
pages spill to a file in the temporary folder.  A full disk there makes SQLite raise "database or disk is full";
here a page limit on every store gives the same error at the same calls.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from build_inputs import simple_export, write_export

import corpus_tools.build.writer as writer_module
import corpus_tools.keys as keys_module
import corpus_tools.release.diff as diff_module
from corpus_tools.build.driver import build_release
from corpus_tools.cli.app import main
from corpus_tools.errors import OutputError
from corpus_tools.ingest.driver import ingest_to_jsonl
from corpus_tools.release.checks import check_release
from corpus_tools.release.diff import diff_releases
from corpus_tools.validate.driver import validate_export

FULL = "could not keep its working data on disk \\(database or disk is full\\)"


def _limit_pages(monkeypatch: pytest.MonkeyPatch, pages: int, *, everywhere: bool) -> None:
    """Every store made from now on holds at most ``pages`` pages (``everywhere``: also the build's
    near-duplicate store and diff's document store, which make their own database)."""
    real = keys_module.private_database

    def limited(cache_kib: int | None = None):
        db = real(cache_kib)
        db.execute(f"PRAGMA max_page_count={pages}")
        return db

    for module in (keys_module, writer_module, diff_module) if everywhere else (keys_module,):
        monkeypatch.setattr(module, "private_database", limited)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An export of 1,000 tasks and its release, built with stores that have room."""
    root = tmp_path_factory.mktemp("stores")
    export = write_export(root / "export.json", simple_export(1000))
    out = root / "release"
    build_release(export, version="1.0.0", out=out, name="test/arabic-news", workers=1)
    return export, out


@pytest.mark.parametrize("everywhere", [False, True], ids=["while-merging", "at-the-start"])
def test_a_build_whose_stores_fill_up_fails_and_leaves_nothing(tmp_path: Path, built, everywhere: bool,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    export, _ = built
    # two pages: the ids seen fill them while the segments are merged; six: the near-duplicate store (a table
    # and five indexes) cannot even be made, before the first segment
    _limit_pages(monkeypatch, 6 if everywhere else 2, everywhere=everywhere)
    out = tmp_path / "releases" / "v1.0.0"
    with pytest.raises(OutputError, match=f"^the build {FULL}"):
        build_release(export, version="1.0.0", out=out, name="test/arabic-news", workers=2)
    assert not out.exists()
    assert list((tmp_path / "releases").iterdir()) == []  # no building folder, no lock


def test_validation_whose_stores_fill_up_is_a_failure_to_run(built, monkeypatch: pytest.MonkeyPatch) -> None:
    export, _ = built
    _limit_pages(monkeypatch, 2, everywhere=False)
    with pytest.raises(OutputError, match=f"^validation {FULL}"):
        validate_export(export)


def test_check_release_whose_stores_fill_up_is_a_failure_to_run(built, monkeypatch: pytest.MonkeyPatch) -> None:
    _, release = built
    _limit_pages(monkeypatch, 2, everywhere=False)
    with pytest.raises(OutputError, match=f"^check-release {FULL}"):
        check_release(release)


def test_diff_whose_stores_fill_up_is_a_failure_to_run(built, monkeypatch: pytest.MonkeyPatch) -> None:
    _, release = built
    _limit_pages(monkeypatch, 6, everywhere=True)
    with pytest.raises(OutputError, match=f"^diff {FULL}"):
        diff_releases(release, release)


def test_the_cli_says_it_in_one_line_and_exits_3(built, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    export, _ = built
    _limit_pages(monkeypatch, 2, everywhere=False)
    monkeypatch.setattr(sys, "argv", ["corpus-tools", "validate", str(export)])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 3
    err = capsys.readouterr().err
    assert err.startswith("Error: validation could not keep its working data on disk (database or disk is full);"
                          " the temporary folder ")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_ingest_whose_stores_fill_up_fails_and_leaves_the_output_as_it_was(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    articles = tmp_path / "articles.jsonl"
    articles.write_text("".join(json.dumps({"id": f"a{i}", "text": f"خبر رقم {i} من بيروت عن الاقتصاد."},
                                           ensure_ascii=False) + "\n" for i in range(400)), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    out.write_text("earlier output\n", encoding="utf-8")
    _limit_pages(monkeypatch, 2, everywhere=False)
    with pytest.raises(OutputError, match=f"^ingest {FULL}"):
        ingest_to_jsonl([articles], out)
    assert out.read_text(encoding="utf-8") == "earlier output\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["articles.jsonl", "out.jsonl"]
