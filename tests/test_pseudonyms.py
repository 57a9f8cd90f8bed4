"""Annotator pseudonyms keyed with a secret the maintainer keeps: no release file names an annotator."""

from __future__ import annotations

import hashlib
import json
import stat
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from build_inputs import annotation, news_article, task, write_export

from corpus_tools.build.driver import build_release
from corpus_tools.errors import InputError
from corpus_tools.teams.pseudonyms import (
    KEY_FILE_ENV,
    default_key_path,
    key_id,
    load_or_create_key,
    pseudonym,
)

EMAILS = ["Alice.Writer@uni.example", "bob@newsroom.example"]
USER_IDS = [4242, 31337]  # completed_by as a bare id, and a user object without an e-mail


def _team_export(path: Path) -> Path:
    """Tasks annotated by two users known by e-mail and two known by id only, one task with two annotations."""
    tasks = []
    who: list[object] = [{"id": 7, "email": EMAILS[0]}, {"id": 8, "email": " " + EMAILS[1].upper() + " "},
                         USER_IDS[0], {"id": USER_IDS[1], "email": None}]
    for i in range(8):
        art = news_article(i)
        anns = [annotation(100 + i, art.result(f"t{i}-"), annotator=who[i % 4], ground_truth=True)]
        if i == 0:
            anns.append(annotation(200, art.result("x-"), annotator=who[2]))
        tasks.append(task(i + 1, art, anns))
    return write_export(path, tasks)


def _needles() -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for email in EMAILS:
        for form in (email, email.lower()):
            digest = hashlib.sha256(form.encode()).hexdigest()
            out[f"e-mail {form}"] = form.encode()
            out[f"sha256 of {form}"] = digest.encode()
            out[f"sha256[:10] of {form}"] = digest[:10].encode()
    for user in USER_IDS:
        out[f"annotator-{user}"] = f"annotator-{user}".encode()
    return out


def _parquet_text(path: Path) -> bytes:
    """Every value of a Parquet file, decoded (the file's own bytes are compressed)."""
    return json.dumps(pq.read_table(path).to_pylist(), ensure_ascii=False, default=str).encode("utf-8")


def _annotators(out: Path) -> list[str | None]:
    return [a for p in sorted((out / "data" / "annotations").glob("*.parquet"))
            for a in pq.read_table(p, columns=["annotator"]).column("annotator").to_pylist()]


def test_no_release_file_names_an_annotator(tmp_path: Path) -> None:
    export = _team_export(tmp_path / "export.json")
    out = tmp_path / "release"
    result = build_release(export, version="1.0.0", out=out, name="test/team", workers=2)
    files = sorted(p for p in out.rglob("*") if p.is_file())
    assert {"README.md", "manifest.json", "splits.json"} <= {p.name for p in files}
    found = []
    for path in files:
        data = path.read_bytes()
        if path.suffix == ".parquet":
            data += _parquet_text(path)
        found += [(path.relative_to(out).as_posix(), what) for what, needle in _needles().items() if needle in data]
    assert found == []

    key = load_or_create_key()
    annotators = _annotators(out)
    assert len(annotators) == 9
    expected = {pseudonym(e, key=key) for e in EMAILS} | {pseudonym(u, key=key) for u in USER_IDS}
    assert set(annotators) == expected and len(expected) == 4
    assert not {str(u) for u in USER_IDS} & set(annotators)
    assert result.manifest["pseudonym_key_id"] == key_id(key)
    assert key.hex().encode() not in b"".join(p.read_bytes() for p in files)


def test_pseudonyms_are_stable_with_one_key_and_change_with_another(tmp_path: Path) -> None:
    export = _team_export(tmp_path / "export.json")
    build_release(export, version="1.0.0", out=tmp_path / "a", name="test/team", workers=0)
    build_release(export, version="1.0.0", out=tmp_path / "b", name="test/team", workers=2)
    other_key = tmp_path / "other.key"
    other = build_release(export, version="1.0.0", out=tmp_path / "c", name="test/team", workers=0,
                          pseudonym_key=other_key)
    assert _annotators(tmp_path / "a") == _annotators(tmp_path / "b")
    assert not set(_annotators(tmp_path / "a")) & set(_annotators(tmp_path / "c"))
    assert other.manifest["pseudonym_key_id"] == key_id(load_or_create_key(other_key))
    assert other.manifest["pseudonym_key_id"] != key_id(load_or_create_key())


def test_pseudonym_normalises_the_identity() -> None:
    key = b"k" * 32
    assert pseudonym(" Alice.Writer@Uni.Example ", key=key) == pseudonym("alice.writer@uni.example", key=key)
    assert pseudonym({"id": 7, "email": "alice.writer@uni.example"}, key=key) == pseudonym(EMAILS[0], key=key)
    assert pseudonym({"id": 4242, "email": None}, key=key) == pseudonym(4242, key=key) == pseudonym("4242", key=key)
    assert pseudonym(4242, key=key) != pseudonym(4242, key=b"j" * 32)
    assert pseudonym(None, key=key) is None and pseudonym("  ", key=key) is None
    assert pseudonym(EMAILS[0], key=key) != "annotator-" + hashlib.sha256(EMAILS[0].lower().encode()).hexdigest()[:16]


def test_a_missing_key_file_is_made_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "config" / "corpus-tools" / "pseudonym.key"
    key = load_or_create_key(path)
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.read_text() == key.hex() + "\n"
    assert load_or_create_key(path) == key
    assert [p.name for p in path.parent.iterdir()] == ["pseudonym.key"]  # no temporary or lock left


def test_the_default_key_file_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_FILE_ENV, str(tmp_path / "team.key"))
    assert default_key_path() == tmp_path / "team.key"
    monkeypatch.delenv(KEY_FILE_ENV)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert default_key_path() == tmp_path / "xdg" / "corpus-tools" / "pseudonym.key"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_key_path() == tmp_path / "home" / ".config" / "corpus-tools" / "pseudonym.key"


@pytest.mark.parametrize("content", [b"", b"not hex at all", b"ab" * 31 + b"\n", b"\xff" * 64])
def test_a_malformed_key_file_is_an_error_and_left_alone(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "pseudonym.key"
    path.write_bytes(content)
    with pytest.raises(InputError, match="pseudonym key file .* is malformed"):
        load_or_create_key(path)
    assert path.read_bytes() == content


def test_an_unreadable_key_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "pseudonym.key"
    path.mkdir()  # a folder where the key should be: it cannot be read, and is never replaced
    with pytest.raises(InputError, match="cannot read the pseudonym key file"):
        load_or_create_key(path)
    assert path.is_dir()


def test_build_refuses_a_malformed_key_before_writing_anything(tmp_path: Path) -> None:
    export = _team_export(tmp_path / "export.json")
    bad = tmp_path / "bad.key"
    bad.write_text("secret-but-not-hex\n")
    result = subprocess.run([sys.executable, "-m", "corpus_tools", "build", str(export), "--version", "1.0.0",
                             "--out", str(tmp_path / "out"), "--pseudonym-key", str(bad), "--workers", "0"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 3, result.stderr
    assert "Error: the pseudonym key file" in result.stderr and "malformed" in result.stderr
    assert "Traceback" not in result.stderr and "secret-but-not-hex" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.key", "export.json"]


def test_a_key_file_made_meanwhile_is_used_not_overwritten(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from corpus_tools.files import write_file_atomically
    from corpus_tools.teams import pseudonyms

    path = tmp_path / "pseudonym.key"
    theirs = bytes(range(32))
    real_write = pseudonyms.write_file_atomically

    def other_process_first(target, data, **options):  # another build makes the key between the check and the write
        write_file_atomically(target, theirs.hex() + "\n")
        real_write(target, data, **options)

    monkeypatch.setattr(pseudonyms, "write_file_atomically", other_process_first)
    assert load_or_create_key(path) == theirs
    assert path.read_text() == theirs.hex() + "\n"
    assert [p.name for p in tmp_path.iterdir()] == ["pseudonym.key"]
