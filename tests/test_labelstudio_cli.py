"""``corpus-tools ls ...`` against a real Label Studio: exit codes, secrets, credentials precedence, up/down."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from labelstudio_server import EMOJI_TEXT, arabic_articles, article, write_jsonl

from corpus_tools.errors import AuthenticationFailed, LabelStudioError
from corpus_tools.labelstudio import server as srv
from corpus_tools.labelstudio.client import Connection, LabelStudioClient
from corpus_tools.report import Report

pytestmark = pytest.mark.labelstudio

WRONG_KEY = "0123456789abcdef-not-the-key-fedcba9876543210"


def run(*args: str, env: dict[str, str], cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "corpus_tools", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=timeout)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABEL_STUDIO_")}
    env.update(extra)
    return env


def assert_one_error_line(result: subprocess.CompletedProcess, *secrets: str) -> str:
    assert result.returncode == 3, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    for secret in secrets:
        assert secret not in result.stdout + result.stderr
    return lines[0]


def test_bad_key_exits_3_without_printing_the_key(ls_server, tmp_path):
    env = ls_server.env(LABEL_STUDIO_API_KEY=WRONG_KEY)
    articles = write_jsonl(tmp_path / "a.jsonl", [article("a1", EMOJI_TEXT)])
    for args in (["ls", "status"], ["ls", "import", str(articles), "--project", "1"],
                 ["ls", "export", "--project", "1", "--out", str(tmp_path / "e.json")]):
        line = assert_one_error_line(run(*args, env=env), WRONG_KEY, ls_server.api_key)
        assert "refused the API key (HTTP 401)" in line
    assert not (tmp_path / "e.json").exists()


def test_bad_personal_access_token_is_refused_without_the_token_in_the_message(ls_server):
    import jwt

    fake = jwt.encode({"exp": int(time.time()) + 3600, "token_type": "refresh", "jti": "x", "user_id": 1},
                      "not-the-signing-key-of-this-server-0123456789")
    with pytest.raises(AuthenticationFailed) as caught:
        LabelStudioClient.connect(Connection(ls_server.url, fake, "test"))
    assert "refused the API key" in str(caught.value) and fake not in str(caught.value)


def test_wrong_url_exits_3(ls_server):
    port = srv.free_port()
    line = assert_one_error_line(run("ls", "status", env=ls_server.env(LABEL_STUDIO_URL=f"http://127.0.0.1:{port}")),
                                 ls_server.api_key)
    assert f"no Label Studio answered at http://127.0.0.1:{port}" in line


def test_url_of_another_server_is_reported(ls_server):
    class Html(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = b"<html><body>not label studio</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Html)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        with pytest.raises(LabelStudioError, match="did not answer like Label Studio"):
            LabelStudioClient.connect(Connection(f"http://127.0.0.1:{httpd.server_address[1]}", WRONG_KEY, "test"))
    finally:
        httpd.shutdown()


def test_an_error_page_echoing_the_key_gives_one_line_without_any_part_of_the_key(ls_server, tmp_path):
    """A proxy's error page that repeats the request's headers: the message is one line, and the key is redacted
    before the page is cut short (a cut through the key would leave its first characters)."""
    key = ls_server.api_key
    padding = 300 - len("Authorization: Token ") - 10  # the first 300 characters end 10 characters into the key

    class Echo(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            detail = "x" * (padding - 2) + "\r\n" + f"Authorization: {self.headers['Authorization']}\nHost: there"
            body = json.dumps({"detail": detail}).encode()
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    credentials = srv.write_credentials(tmp_path / "credentials.json", srv.Credentials(
        url=url, email=ls_server.email, password=ls_server.password, api_key=key))
    try:
        for env in (ls_server.env(LABEL_STUDIO_URL=url), clean_env()):  # a key from the environment or the file
            line = assert_one_error_line(run("ls", "status", "--credentials", str(credentials), env=env), key)
            assert line.startswith(f"Error: Label Studio at {url} answered HTTP 400 while trying to check the API key")
            assert key[:6] not in line and "Authorization: Token ***" in line
    finally:
        httpd.shutdown()


def test_a_server_answering_anything_with_json_is_not_taken_for_label_studio(ls_server):
    """A catch-all server answering every path with 200 and a JSON object: one Error line, no traceback."""

    class CatchAll(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            echoed = "\n".join(f"{k}: {v}" for k, v in self.headers.items())
            body = json.dumps({"id": echoed, "email": echoed, "results": echoed}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), CatchAll)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        for args in (["ls", "status"], ["ls", "setup", "--project", "catch all"], ["ls", "users", "list"]):
            line = assert_one_error_line(run(*args, env=ls_server.env(LABEL_STUDIO_URL=url)), ls_server.api_key)
            assert line == (f"Error: Label Studio at {url} did not answer like Label Studio (no user in its answer)"
                            " while trying to check the API key; check LABEL_STUDIO_URL")
    finally:
        httpd.shutdown()


def test_legacy_token_and_personal_access_token_both_work(ls_server):
    for key in (ls_server.api_key, ls_server.personal_access_token()):
        client = LabelStudioClient.connect(Connection(ls_server.url, key, "test"))
        assert client.whoami()["email"] == ls_server.email


def test_credentials_file_is_used_unless_the_environment_sets_a_key(ls_server, tmp_path):
    (tmp_path / ".labelstudio").mkdir()
    creds = srv.write_credentials(tmp_path / ".labelstudio" / "credentials.json", srv.Credentials(
        url=ls_server.url, email=ls_server.email, password=ls_server.password, api_key=ls_server.api_key))
    result = run("ls", "status", "--json", env=clean_env(), cwd=tmp_path)  # the default location
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"url": ls_server.url, "user": ls_server.email,
                                         "key_from": str(Path(".labelstudio") / "credentials.json")}
    bad = run("ls", "status", "--credentials", str(creds),
              env=clean_env(LABEL_STUDIO_API_KEY=WRONG_KEY, LABEL_STUDIO_URL=ls_server.url))
    assert_one_error_line(bad, WRONG_KEY, ls_server.api_key)


def test_cli_setup_import_export(ls_server, tmp_path):
    env = ls_server.env(CORPUS_TOOLS_CACHE=str(tmp_path / "cache"))
    title = "cli round trip"
    setup = run("ls", "setup", "--project", title, "--json", env=env)
    assert setup.returncode == 0, setup.stderr
    project = json.loads(setup.stdout)
    assert project["action"] == "created" and project["title"] == title

    articles = write_jsonl(tmp_path / "a.jsonl", arabic_articles(25) + [article("emoji", EMOJI_TEXT)])
    first = run("ls", "import", str(articles), "--project", title, "--batch-size", "10", "--json", env=env)
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    assert list(data) == list(Report().to_dict())  # exactly report.to_dict()
    assert (data["valid"], data["stats"]["imported"], data["stats"]["batches"]) == (True, 26, 3)
    second = run("ls", "import", str(articles), "--project", str(project["project_id"]), env=env)
    assert second.returncode == 0, second.stderr
    assert "imported 0 tasks" in second.stderr and "26 already present" in second.stderr

    out = tmp_path / "export.json"
    export = run("ls", "export", "--project", title, "--out", str(out), env=env)
    assert export.returncode == 0, export.stderr
    assert "26 tasks (26 unannotated)" in export.stderr
    assert len(json.loads(out.read_text(encoding="utf-8"))) == 26


def test_cli_refuses_invalid_predictions_with_exit_1(ls_server, tmp_path):
    env = ls_server.env(CORPUS_TOOLS_CACHE=str(tmp_path / "cache"))
    project = json.loads(run("ls", "setup", "--project", "cli refused predictions", "--json", env=env).stdout)
    articles = write_jsonl(tmp_path / "a.jsonl", [article("emoji", EMOJI_TEXT)])
    start = len("😀 زار ")
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": "emoji", "text": EMOJI_TEXT, "entities": [
        {"id": "s", "start": start, "end": start + len("محمد"), "text": "محمد", "label": "PERSON"}],
        "relations": []}])
    result = run("ls", "import", str(articles), "--project", str(project["project_id"]), "--predictions",
                 str(preds), "--json", env=env)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert sorted((p["code"], p.get("json_path")) for p in report["problems"]) == [
        ("span-unknown-label", "$.entities[0].label"), ("upload-missing-model-version", "$.meta.model_version")]
    assert ls_server.client().count_tasks(project["project_id"]) == 0


def test_cli_import_reports_a_changed_text_and_updates_it_when_asked(ls_server, tmp_path):
    env = ls_server.env(CORPUS_TOOLS_CACHE=str(tmp_path / "cache"))
    project = json.loads(run("ls", "setup", "--project", "cli changed text", "--json", env=env).stdout)["project_id"]
    write_jsonl(tmp_path / "a.jsonl", [article("wire-1", EMOJI_TEXT)])
    assert run("ls", "import", str(tmp_path / "a.jsonl"), "--project", str(project), env=env).returncode == 0
    [(task, _)] = list(ls_server.client().iter_task_data(project))
    edited = write_jsonl(tmp_path / "b.jsonl", [article("wire-1", EMOJI_TEXT + " اليوم")])
    left = run("ls", "import", str(edited), "--project", str(project), env=env)
    assert left.returncode == 0, left.stderr
    assert "upload-text-changed" in left.stderr and f"Article 'wire-1' (task {task}): text changed" in left.stderr
    assert "1 tasks have an article whose text changed and were left alone; run with --update-changed" in left.stderr
    updated = run("ls", "import", str(edited), "--project", str(project), "--update-changed", env=env)
    assert updated.returncode == 0, updated.stderr
    assert f"Updated the text of 1 tasks whose article's text changed: wire-1 (task {task})." in updated.stderr
    assert ls_server.client().get_task_text(task) == EMOJI_TEXT + " اليوم"


# ---------------------------------------------------------------------------- ls up / ls down


@pytest.fixture
def seeded_data_dir(tmp_path, ls_server) -> Path:
    """A data dir copied from the template, with its credentials file (starts in seconds)."""
    data_dir = tmp_path / "ls-data"
    credentials = srv.copy_template(data_dir, binary=ls_server.binary)
    srv.write_credentials(data_dir / srv.CREDENTIALS_FILE, credentials)
    return data_dir


def test_up_detach_status_down(seeded_data_dir, tmp_path):
    port = srv.free_port()
    up = run("ls", "up", "--detach", "--data-dir", str(seeded_data_dir), "--port", str(port), env=clean_env())
    try:
        assert up.returncode == 0, up.stderr
        assert f"is up at http://127.0.0.1:{port}" in up.stderr
        assert f"{seeded_data_dir / 'credentials.json'}" in up.stderr
        creds = srv.read_credentials(seeded_data_dir / "credentials.json")
        assert creds.url == f"http://127.0.0.1:{port}" and creds.api_key not in up.stderr + up.stdout
        assert creds.password not in up.stderr + up.stdout
        status = run("ls", "status", "--json", "--credentials", str(seeded_data_dir / "credentials.json"),
                     env=clean_env())
        assert status.returncode == 0 and json.loads(status.stdout)["url"] == creds.url
        again = run("ls", "up", "--detach", "--data-dir", str(seeded_data_dir), "--port", str(srv.free_port()),
                    env=clean_env())
        assert "already running" in assert_one_error_line(again)
    finally:
        down = run("ls", "down", "--data-dir", str(seeded_data_dir), env=clean_env())
    assert down.returncode == 0 and "stopped" in down.stderr
    assert not (seeded_data_dir / srv.PID_FILE).exists()
    assert not srv.health(f"http://127.0.0.1:{port}")
    assert "No Label Studio is running" in run("ls", "down", "--data-dir", str(seeded_data_dir),
                                               env=clean_env()).stderr


def test_up_refuses_a_busy_port(seeded_data_dir):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run("ls", "up", "--detach", "--data-dir", str(seeded_data_dir), "--port", str(port), env=clean_env())
    assert f"port {port} on 127.0.0.1 is in use" in assert_one_error_line(result)


def test_up_stops_cleanly_on_ctrl_c(seeded_data_dir):
    port = srv.free_port()
    process = subprocess.Popen([sys.executable, "-m", "corpus_tools", "ls", "up", "--data-dir", str(seeded_data_dir),
                                "--port", str(port)], stderr=subprocess.PIPE, text=True, env=clean_env())
    try:
        seen = []
        for line in process.stderr:
            seen.append(line)
            if "Ctrl-C" in line:
                break
        assert srv.health(f"http://127.0.0.1:{port}"), "".join(seen)
        pid, _ = srv.read_pid_file(seeded_data_dir)
        process.send_signal(signal.SIGINT)
        rest = process.stderr.read()
        assert process.wait(30) == 0, rest
    finally:
        if process.poll() is None:
            process.kill()
    assert "Label Studio stopped." in rest
    assert not (seeded_data_dir / srv.PID_FILE).exists()
    assert not Path(f"/proc/{pid}").exists() or b"label-studio" not in Path(f"/proc/{pid}/cmdline").read_bytes()


@pytest.mark.slow
def test_first_up_creates_admin_and_key_on_an_empty_data_dir(tmp_path, ls_server):
    """The real first start (~40 s): random credentials applied, legacy key enabled, file mode 0600."""
    data_dir = tmp_path / "fresh"
    port = srv.free_port()
    up = run("ls", "up", "--detach", "--data-dir", str(data_dir), "--port", str(port), env=clean_env(
        USERNAME="ci-user", PASSWORD="ci-password", PORT="1", HOST="example.org", DEBUG="1"))
    try:
        assert up.returncode == 0, up.stderr
        creds = srv.read_credentials(data_dir / "credentials.json")
        assert oct((data_dir / "credentials.json").stat().st_mode & 0o777) == "0o600"
        assert len(creds.api_key) == 40 and creds.api_key not in up.stderr
        status = run("ls", "status", "--json", env=clean_env(LABEL_STUDIO_URL=creds.url,
                                                              LABEL_STUDIO_API_KEY=creds.api_key))
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["user"] == "admin@example.com"
    finally:
        run("ls", "down", "--data-dir", str(data_dir), env=clean_env())
    assert not srv.health(f"http://127.0.0.1:{port}")


def test_up_with_a_data_dir_that_cannot_be_made_is_a_clear_error(ls_server, tmp_path):
    (tmp_path / "file").write_text("not a folder", encoding="utf-8")
    result = run("ls", "up", "--data-dir", str(tmp_path / "file" / "ls"), "--detach", env=clean_env())
    assert result.returncode == 3 and "Traceback" not in result.stderr
    assert f"cannot create the data dir {tmp_path / 'file' / 'ls'}: Not a directory" in " ".join(result.stderr.split())
