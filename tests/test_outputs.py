"""Every file and folder a command writes (issue 23, "nothing lost, nothing silently changed"): a command that
fails leaves an existing output byte for byte as it was; a rerun removes what a killed run left beside its output,
never what a running one is writing; what is written gets the permissions of the umask.

Writers: ``ingest --out``, ``validate --repair-utf16 --out``, ``ls export --out`` (its writing, through a
stand-in for the Label Studio SDK), ``build --out`` and ``publish`` to a local folder.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import build_inputs as B
import pytest
from release_factory import TEXTS_V1, make_release

from corpus_tools.errors import InputError
from corpus_tools.labelstudio.client import LabelStudioClient
from corpus_tools.labelstudio.snapshot import export_project

FIXTURES = Path(__file__).parent / "fixtures" / "validate"
ARTICLE = "عنوان الخبر\n\nالقاهرة (رويترز) - قال المتحدث إن الاجتماع انتهى.\n"
KNOWN = b'{"id":"earlier","text":"\xd9\x86\xd8\xb5 \xd8\xb3\xd8\xa7\xd8\xa8\xd9\x82"}\n'  # an earlier output


def run(*args: str, cwd: Path | None = None, umask: int | None = None,
        stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """The real console entry point in a subprocess, under ``umask`` when given."""
    return subprocess.run([sys.executable, "-m", "corpus_tools", *args], cwd=cwd, input=stdin, capture_output=True,
                          timeout=300, preexec_fn=None if umask is None else (lambda: os.umask(umask)))


def tree(root: Path) -> dict[str, tuple[int, bytes | None]]:
    """Every file and folder under ``root`` (itself included) with its mode and bytes."""
    found = {}
    for path in [root, *sorted(root.rglob("*"))]:
        found[path.relative_to(root).as_posix()] = (os.lstat(path).st_mode,
                                                     None if path.is_dir() else path.read_bytes())
    return found


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def wait_for(condition, what: str, proc: subprocess.Popen | None = None, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while not condition():
        assert proc is None or proc.poll() is None, f"the process ended before {what}"
        assert time.monotonic() < deadline, f"no {what} after {seconds} s"
        time.sleep(0.02)


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# -- defect 2: a failing command never replaces or truncates its output -------------------------------------------


def test_ingest_of_invalid_utf8_exits_1_and_keeps_the_earlier_output(tmp_path):
    bad = tmp_path / "invalid-utf8.txt"
    bad.write_bytes(b"\xff\xfe not UTF-8 \xc3\x28\n")
    out = tmp_path / "out.jsonl"
    out.write_bytes(KNOWN)
    result = run("ingest", str(bad), "--out", str(out))
    assert result.returncode == 1, result.stderr
    assert out.read_bytes() == KNOWN
    assert f"did not write {out}" in " ".join(result.stderr.decode().split())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["invalid-utf8.txt", "out.jsonl"]


def test_ingest_with_one_rejected_input_among_good_ones_writes_nothing(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text(ARTICLE, encoding="utf-8")
    (tmp_path / "in" / "b.txt").write_bytes(b"\xff")
    out = tmp_path / "out.jsonl"
    result = run("ingest", str(tmp_path / "in"), "--out", str(out), "--json")
    assert result.returncode == 1
    assert [p["code"] for p in json.loads(result.stdout)["problems"] if p["severity"] == "error"] == [
        "ingest-invalid-utf8"]
    assert not out.exists()  # none before, none after: a failing run creates no output either


@pytest.mark.parametrize(("args", "code"), [
    (["MISSING"], 3),  # an input that does not exist
    (["GOOD", "--max-bytes", "0"], 2),  # a usage error
    (["GOOD", "--field", "nonsense"], 2),
])
def test_ingest_failing_to_run_keeps_the_earlier_output(tmp_path, args, code):
    good = tmp_path / "a.txt"
    good.write_text(ARTICLE, encoding="utf-8")
    out = tmp_path / "out.jsonl"
    out.write_bytes(KNOWN)
    named = [str(tmp_path / "missing.txt") if a == "MISSING" else str(good) if a == "GOOD" else a for a in args]
    result = run("ingest", *named, "--out", str(out))
    assert result.returncode == code, result.stderr
    assert out.read_bytes() == KNOWN


def test_validate_repair_with_errors_left_exits_1_and_keeps_the_earlier_copy(tmp_path):
    out = tmp_path / "fixed.json"
    out.write_bytes(KNOWN)
    result = run("validate", str(FIXTURES / "relation-domain-and-range-reversed.json"), "--repair-utf16", "--out",
                 str(out))
    assert result.returncode == 1, result.stderr
    assert out.read_bytes() == KNOWN
    assert f"did not write {out}" in " ".join(result.stderr.decode().split())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fixed.json"]


@pytest.mark.parametrize(("source", "code"), [("export-truncated.json", 1), ("missing.json", 3)])
def test_validate_repair_of_a_bad_or_missing_input_keeps_the_earlier_copy(tmp_path, source, code):
    out = tmp_path / "fixed.json"
    out.write_bytes(KNOWN)
    result = run("validate", str(FIXTURES / source), "--repair-utf16", "--out", str(out))
    assert result.returncode == code, result.stderr
    assert out.read_bytes() == KNOWN
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fixed.json"]


def test_build_refuses_an_existing_out_and_leaves_it_as_it_was(tmp_path):
    export = B.write_export(tmp_path / "a.json", B.simple_export(3))
    out = tmp_path / "rel"
    (out / "data").mkdir(parents=True)
    (out / "README.md").write_bytes(KNOWN)
    before = tree(out)
    result = run("build", str(export), "--version", "1.0.0", "--out", str(out))
    assert result.returncode == 3, result.stderr
    assert tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "rel"]


def test_build_of_invalid_data_exits_1_and_writes_nothing(tmp_path):
    export = tmp_path / "a.json"
    export.write_bytes((FIXTURES / "relation-domain-and-range-reversed.json").read_bytes())
    result = run("build", str(export), "--version", "1.0.0", "--out", str(tmp_path / "rel"))
    assert result.returncode == 1, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    return make_release(tmp_path_factory.mktemp("builds"), "1.0.0", TEXTS_V1)


def test_failing_publishes_leave_the_local_target_as_it_was(tmp_path, release):
    target = tmp_path / "news"
    first = run("publish", str(release), "--to", str(target))
    assert first.returncode == 0, first.stderr
    before = tree(target)
    again = run("publish", str(release), "--to", str(target))  # the version exists
    assert again.returncode == 3 and b"already published" in again.stderr
    assert tree(target) == before
    broken = tmp_path / "broken"
    import shutil

    shutil.copytree(release, broken)
    (broken / "README.md").write_bytes(KNOWN)  # no longer the file the manifest lists
    failed = run("publish", str(broken), "--to", str(target))
    assert failed.returncode == 1, failed.stderr
    assert tree(target) == before


# -- ls export: its writing, through a stand-in for the SDK -------------------------------------------------------


def fake_client(chunks, *, pause: float = 0.0) -> LabelStudioClient:
    """A client whose SDK serves one finished snapshot made of ``chunks`` (``pause`` seconds after the first)."""
    def download(**_options):
        for i, chunk in enumerate(chunks):
            yield chunk
            if i == 0 and pause:
                time.sleep(pause)

    exports = SimpleNamespace(
        create=lambda **_options: SimpleNamespace(id=7, status="completed"),
        get=lambda **_options: SimpleNamespace(status="completed"),
        download=download,
        delete=lambda **_options: None,
    )
    client = LabelStudioClient.__new__(LabelStudioClient)
    client.url, client._key = "http://127.0.0.1:1", "key"
    client._sdk = SimpleNamespace(projects=SimpleNamespace(exports=exports))
    return client


EXPORT = json.dumps([{"id": 1, "data": {"text": "نص"}, "annotations": [], "predictions": []}],
                    ensure_ascii=False).encode()


def test_ls_export_of_an_answer_that_is_not_an_export_keeps_the_earlier_file(tmp_path):
    out = tmp_path / "export.json"
    out.write_bytes(KNOWN)
    with pytest.raises(InputError, match="export.json was not written: the download is not a Label Studio"):
        export_project(fake_client([b"<html>proxy error</html>"]), 3, out)
    assert out.read_bytes() == KNOWN
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.json"]
    summary = export_project(fake_client([EXPORT[:5], EXPORT[5:]]), 3, out)
    assert out.read_bytes() == EXPORT and summary.path == str(out) and summary.tasks == 1


# -- defect 3: a rerun removes what a killed run left, never what a running one writes ------------------------------


def test_a_rerun_of_ingest_removes_what_a_killed_run_left(tmp_path):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)  # the run waits for a writer, its temporary file open
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "articles.jsonl"
    out.write_bytes(KNOWN)
    proc = subprocess.Popen([sys.executable, "-m", "corpus_tools", "ingest", str(fifo), "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: any(n.endswith(".tmp") for n in temporaries(out_dir)), "temporary file", proc)
    finally:
        proc.kill()
        proc.wait()
    left = temporaries(out_dir)
    assert len(left) == 2 and left[0].startswith(".articles.jsonl.") and left[1] == left[0] + ".lock"
    assert out.read_bytes() == KNOWN
    good = tmp_path / "a.txt"
    good.write_text(ARTICLE, encoding="utf-8")
    result = run("ingest", str(good), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert [p.name for p in out_dir.iterdir()] == ["articles.jsonl"]
    assert json.loads(out.read_text(encoding="utf-8"))["text"] == ARTICLE


def test_a_run_of_ingest_keeps_the_temporary_file_of_a_run_still_going(tmp_path):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "articles.jsonl"
    first = subprocess.Popen([sys.executable, "-m", "corpus_tools", "ingest", str(fifo), "--out", str(out)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: any(n.endswith(".tmp") for n in temporaries(out_dir)), "temporary file", first)
        running = temporaries(out_dir)
        good = tmp_path / "a.txt"
        good.write_text(ARTICLE, encoding="utf-8")
        second = run("ingest", str(good), "--out", str(out))  # the same output, meanwhile
        assert second.returncode == 0, second.stderr
        assert temporaries(out_dir) == running  # the first run's file and lock are still there
        with open(fifo, "w", encoding="utf-8") as pipe:  # the first run goes on and finishes
            pipe.write(ARTICLE.replace("المتحدث", "الوزير"))
        assert first.wait(timeout=120) == 0, first.stderr.read()
    finally:
        first.kill()
        first.wait()
    assert [p.name for p in out_dir.iterdir()] == ["articles.jsonl"]
    assert "الوزير" in json.loads(out.read_text(encoding="utf-8"))["text"]


def test_a_rerun_of_validate_repair_removes_what_a_killed_run_left(tmp_path):
    source = B.write_export(tmp_path / "big.json", B.simple_export(6000))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "fixed.json"
    proc = subprocess.Popen([sys.executable, "-m", "corpus_tools", "validate", str(source), "--repair-utf16",
                             "--out", str(out), "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: any(n.endswith(".tmp") for n in temporaries(out_dir)), "temporary file", proc)
    finally:
        proc.kill()
        proc.wait()
    left = temporaries(out_dir)
    assert len(left) == 2 and left[0].startswith(".fixed.json.") and left[1] == left[0] + ".lock"
    small = B.write_export(tmp_path / "small.json", B.simple_export(3))
    result = run("validate", str(small), "--repair-utf16", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert [p.name for p in out_dir.iterdir()] == ["fixed.json"]
    assert json.loads(out.read_bytes()) == json.loads(small.read_bytes())


def test_a_rerun_of_ls_export_removes_what_a_killed_run_left(tmp_path):
    out = tmp_path / "out" / "export.json"
    code = ("import sys; sys.path.insert(0, sys.argv[1])\n"
            "from pathlib import Path\n"
            "from test_outputs import fake_client\n"
            "from corpus_tools.labelstudio.snapshot import export_project\n"
            "export_project(fake_client([b'[', b']'], pause=600), 3, Path(sys.argv[2]))\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(Path(__file__).parent), str(out)])
    try:
        wait_for(lambda: out.parent.is_dir() and any(n.endswith(".part") for n in temporaries(out.parent)),
                 "temporary file", proc)
    finally:
        proc.kill()
        proc.wait()
    left = temporaries(out.parent)
    assert len(left) == 2 and left[0].startswith(".export.json.") and left[1] == left[0] + ".lock"
    summary = export_project(fake_client([EXPORT]), 3, out)
    assert summary.tasks == 1 and out.read_bytes() == EXPORT
    assert [p.name for p in out.parent.iterdir()] == ["export.json"]


# -- defect 6: permissions from the umask -------------------------------------------------------------------------


@pytest.mark.parametrize(("umask", "folder", "file"), [(0o022, 0o755, 0o644), (0o077, 0o700, 0o600)])
def test_build_output_follows_the_umask(tmp_path, umask, folder, file):
    export = B.write_export(tmp_path / "a.json", B.simple_export(6))
    out = tmp_path / "rel"
    result = run("build", str(export), "--version", "1.0.0", "--out", str(out), umask=umask)
    assert result.returncode == 0, result.stderr
    paths = [out, *out.rglob("*")]
    assert {p.relative_to(out).as_posix(): mode(p) for p in paths if p.is_dir()} == {
        p.relative_to(out).as_posix(): folder for p in paths if p.is_dir()}
    assert {"manifest.json", "README.md", "splits.json"} <= {p.name for p in paths if p.is_file()}
    assert {p.relative_to(out).as_posix(): mode(p) for p in paths if p.is_file()} == {
        p.relative_to(out).as_posix(): file for p in paths if p.is_file()}
    assert len([p for p in paths if p.is_dir()]) > 2  # data/ and its config folders are checked too
    checked = run("check-release", str(out))
    assert checked.returncode == 0, checked.stderr


@pytest.mark.parametrize(("umask", "folder", "file", "read_only_folder", "read_only_file"),
                         [(0o022, 0o755, 0o644, 0o555, 0o444), (0o077, 0o700, 0o600, 0o500, 0o400)])
def test_local_publish_follows_the_umask(tmp_path, release, umask, folder, file, read_only_folder, read_only_file):
    target = tmp_path / "news"
    result = run("publish", str(release), "--to", str(target), umask=umask)
    assert result.returncode == 0, result.stderr
    assert (mode(target), mode(target / "index.json")) == (folder, file)
    version = target / "v1.0.0"
    paths = [version, *version.rglob("*")]
    assert {mode(p) for p in paths if p.is_dir()} == {read_only_folder}
    assert {mode(p) for p in paths if p.is_file()} == {read_only_file}


@pytest.mark.parametrize(("umask", "file"), [(0o022, 0o644), (0o077, 0o600)])
def test_ingest_and_repair_outputs_follow_the_umask(tmp_path, umask, file):
    good = tmp_path / "a.txt"
    good.write_text(ARTICLE, encoding="utf-8")
    assert run("ingest", str(good), "--out", str(tmp_path / "new" / "a.jsonl"), umask=umask).returncode == 0
    assert mode(tmp_path / "new" / "a.jsonl") == file
    assert mode(tmp_path / "new") == 0o777 & ~umask
    repaired = tmp_path / "fixed.json"
    source = FIXTURES / "span-utf16-offsets-after-emoji.json"
    assert run("validate", str(source), "--repair-utf16", "--out", str(repaired), umask=umask).returncode == 0
    assert mode(repaired) == file


@pytest.mark.parametrize(("umask", "file"), [(0o022, 0o644), (0o077, 0o600)])
def test_ls_export_follows_the_umask(tmp_path, umask, file):
    out = tmp_path / "export.json"
    previous = os.umask(umask)
    try:
        export_project(fake_client([EXPORT]), 3, out)
    finally:
        os.umask(previous)
    assert mode(out) == file


# -- defect 7: a target is a local folder or the Hub, never a URL taken for a folder --------------------------------


@pytest.mark.parametrize("url", ["ftp://host/x", "http://example.org/releases/x", "https://example.org/x",
                                 "s3://bucket/x", "file:///tmp/releases/x", "FTP://host/x", "ftp://host/x@v1.0.0"])
def test_publish_to_a_url_that_is_not_the_hub_is_a_usage_error(tmp_path, release, url):
    result = run("publish", str(release), "--to", url, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    said = " ".join(result.stderr.decode().replace("│", " ").split())
    assert "is not a publish target: give a local folder (./releases/NAME, ./releases/NAME/vX.Y.Z) or" \
           " hf://datasets/ORG/NAME" in said
    assert list(tmp_path.iterdir()) == []  # no ./ftp:/host/x folder
    listed = run("releases", url, cwd=tmp_path)
    assert listed.returncode == 2 and list(tmp_path.iterdir()) == []


def test_a_local_folder_with_colons_in_its_name_stays_a_local_folder(tmp_path, release):
    result = run("publish", str(release), "--to", "releases/name:with:colons", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "releases" / "name:with:colons" / "v1.0.0" / "manifest.json").is_file()
