"""A team of annotators: overlap settings, logins made through the invitation link, each user's own key.

The server tests (marker ``labelstudio``) run against the session's real Label Studio; the others check the
pure parts (shares, the password file) without one."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from labelstudio_server import EMOJI_TEXT
from labelstudio_team import make_team

from corpus_tools.errors import AuthenticationFailed, OutputError
from corpus_tools.labelstudio.team import (
    NewUser,
    read_password_file,
    share_to_percentage,
    user_api_key,
    write_password_file,
)

URL = "http://127.0.0.1:8080"
START, END = len("😀 زار "), len("😀 زار محمد")


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "corpus_tools", *args], capture_output=True, text=True, env=env,
                          timeout=300)


def span_result(prefix: str) -> list[dict]:
    return [{"id": f"{prefix}-per", "from_name": "label", "to_name": "text", "type": "labels",
             "value": {"start": START, "end": END, "text": EMOJI_TEXT[START:END], "labels": ["PER"]}}]


# ---------------------------------------------------------------------------- no server


def test_share_is_a_fraction_kept_as_a_whole_percentage():
    assert [share_to_percentage(s) for s in (0, 0.5, 1, 0.333, 0.125)] == [0, 50, 100, 33, 12]
    for bad in (-0.01, 1.01, 50, math.nan):
        with pytest.raises(ValueError, match="is not a share from 0 to 1"):
            share_to_percentage(bad)


def test_password_file_is_0600_merged_and_rewritten_only_when_something_changed(tmp_path):
    path = tmp_path / "passwords.json"
    first = write_password_file(path, URL, {"a@example.org": "pw-a-123456789"})
    assert (first.existed, first.added, first.replaced, first.kept) == (False, ("a@example.org",), (), ())
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert json.loads(path.read_text(encoding="utf-8")) == {"url": URL,
                                                            "passwords": {"a@example.org": "pw-a-123456789"}}
    mtime = path.stat().st_mtime_ns
    same = write_password_file(path, URL + "/", {})
    assert (same.added, same.replaced, same.kept) == ((), (), ("a@example.org",)) and path.stat().st_mtime_ns == mtime
    path.chmod(0o644)
    merged = write_password_file(path, URL, {"b@example.org": "pw-b-123456789", "a@example.org": "pw-a-new-12345"})
    assert (merged.existed, merged.added, merged.replaced, merged.kept) == (True, ("b@example.org",),
                                                                             ("a@example.org",), ())
    assert read_password_file(path, URL) == {"a@example.org": "pw-a-new-12345", "b@example.org": "pw-b-123456789"}
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_password_file_of_another_kind_or_server_is_refused_and_left_alone(tmp_path):
    other = tmp_path / "notes.txt"
    other.write_text("my notes\n", encoding="utf-8")
    with pytest.raises(OutputError, match="is not a corpus-tools password file"):
        write_password_file(other, URL, {"a@example.org": "pw-a-123456789"})
    assert other.read_text(encoding="utf-8") == "my notes\n"
    theirs = tmp_path / "theirs.json"
    write_password_file(theirs, "http://elsewhere:8080", {"a@example.org": "pw-a-123456789"})
    with pytest.raises(OutputError, match="holds passwords for Label Studio at http://elsewhere:8080"):
        write_password_file(theirs, URL, {"b@example.org": "pw-b-123456789"})


def test_a_new_users_password_is_not_in_its_repr():
    assert "s3cret-pass-word" not in repr(NewUser("a@example.org", 2, True, "s3cret-pass-word"))


# ---------------------------------------------------------------------------- overlap


@pytest.mark.labelstudio
def test_setup_overlap_is_read_back_idempotent_and_updated(ls_server, tmp_path):
    env = ls_server.env(CORPUS_TOOLS_CACHE=str(tmp_path / "cache"))
    title = "team overlap"
    first = run("ls", "setup", "--project", title, "--overlap", "3", "--overlap-share", "0.5", "--json", env=env)
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    assert data["overlap"] == {"maximum_annotations": 3, "overlap_cohort_percentage": 50,
                               "changed": ["maximum_annotations", "overlap_cohort_percentage"]}
    project = ls_server.client().get_project(data["project_id"])
    assert (project.maximum_annotations, project.overlap_cohort_percentage) == (3, 50)

    again = run("ls", "setup", "--project", title, "--overlap", "3", "--overlap-share", "0.5", env=env)
    assert again.returncode == 0, again.stderr
    assert "Overlap: up to 3 annotations per task on 50 % of the tasks (unchanged)." in again.stderr
    plain = run("ls", "setup", "--project", title, "--json", env=env)  # no overlap option: left as it is
    assert json.loads(plain.stdout)["overlap"] == {"maximum_annotations": 3, "overlap_cohort_percentage": 50,
                                                   "changed": []}

    changed = run("ls", "setup", "--project", title, "--overlap", "2", env=env)
    assert changed.returncode == 0, changed.stderr
    assert "(changed: maximum_annotations 3 -> 2)." in changed.stderr
    project = ls_server.client().get_project(data["project_id"])
    assert (project.maximum_annotations, project.overlap_cohort_percentage) == (2, 50)

    for bad in (["--overlap", "0"], ["--overlap", "-1"], ["--overlap-share", "1.5"], ["--overlap-share", "-0.1"],
                ["--overlap-share", "nan"], ["--overlap", "two"]):
        result = run("ls", "setup", "--project", title, *bad, env=env)
        assert result.returncode == 2, (bad, result.stderr)
        assert "Traceback" not in result.stderr and result.stdout == ""
    project = ls_server.client().get_project(data["project_id"])
    assert (project.maximum_annotations, project.overlap_cohort_percentage) == (2, 50)

    status = run("ls", "status", "--project", title, "--json", env=env)  # what a maintainer checks later
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["project"] == {
        "id": data["project_id"], "title": title, "tasks": 0,
        "overlap": {"maximum_annotations": 2, "overlap_cohort_percentage": 50}}
    shown = run("ls", "status", "--project", str(data["project_id"]), env=env)
    assert shown.returncode == 0, shown.stderr
    assert (f"Project {data['project_id']} 'team overlap': 0 tasks; overlap: up to 2 annotations per task on 50 %"
            " of the tasks.") in shown.stderr
    missing = run("ls", "status", "--project", "no such project", env=env)
    assert missing.returncode == 3 and "no project titled 'no such project'" in missing.stderr


# ---------------------------------------------------------------------------- users


@pytest.mark.labelstudio
def test_users_add_with_a_password_file_then_each_user_annotates_as_themselves(ls_server, ls_project, tmp_path):
    env = ls_server.env()
    emails = ["team-a@example.org", "team-b@example.org"]
    passwords_path = tmp_path / "passwords.json"
    add = run("ls", "users", "add", *emails, "--password-file", str(passwords_path), "--json", env=env)
    assert add.returncode == 0, add.stderr
    users = json.loads(add.stdout)["users"]
    assert [(u["email"], u["action"]) for u in users] == [(e, "created") for e in emails]
    assert oct(passwords_path.stat().st_mode & 0o777) == "0o600"
    passwords = read_password_file(passwords_path, ls_server.url)
    assert sorted(passwords) == emails and all(len(p) >= 20 for p in passwords.values())
    listed = run("ls", "users", "list", "--json", env=env)
    assert {(u["email"], u["id"]) for u in json.loads(listed.stdout)["users"]} >= {(u["email"], u["id"])
                                                                                   for u in users}

    before = passwords_path.read_bytes()
    rerun = run("ls", "users", "add", *emails, "--password-file", str(passwords_path), env=env)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{emails[0]} (id {users[0]['id']}): exists already; password unchanged" in rerun.stderr
    assert f"No new login: {passwords_path} left as it was." in rerun.stderr
    assert passwords_path.read_bytes() == before

    project = ls_project()
    [task_id] = ls_server.client().import_tasks(project.id, [{"data": {"text": EMOJI_TEXT}}])
    keys = []
    for user in users:
        key = user_api_key(ls_server.url, user["email"], passwords[user["email"]])
        keys.append(key)
        from label_studio_sdk import LabelStudio

        sdk = LabelStudio(base_url=ls_server.url, api_key=key)
        assert sdk.users.whoami().id == user["id"]
        assert [t.id for t in sdk.tasks.list(project=project.id)] == [task_id]  # they see the project's tasks
        annotation = sdk.annotations.create(id=task_id, result=span_result(user["email"]))
        assert annotation.completed_by == user["id"]
    assert len(set(keys)) == 2 and ls_server.api_key not in keys

    counted = run("ls", "users", "list", "--project", str(project.id), "--json", env=env)
    by_email = {u["email"]: u.get("annotated_tasks") for u in json.loads(counted.stdout)["users"]}
    assert (by_email[emails[0]], by_email[emails[1]], by_email[ls_server.email]) == (1, 1, 0)

    secrets = [*passwords.values(), *keys, ls_server.api_key]
    for result in (add, listed, rerun, counted):
        for secret in secrets:
            assert secret not in result.stdout + result.stderr


@pytest.mark.labelstudio
def test_users_add_prints_each_new_password_once_on_stdout(ls_server):
    env = ls_server.env()
    result = run("ls", "users", "add", "team-print@example.org", "team-print@example.org", env=env)
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    email, password = line.split("\t")
    assert email == "team-print@example.org" and password not in result.stderr
    assert user_api_key(ls_server.url, email, password)  # the printed password logs in
    again = run("ls", "users", "add", "TEAM-PRINT@example.org", env=env)
    assert again.returncode == 0 and again.stdout == ""
    assert "team-print@example.org (id " in again.stderr and "exists already; password unchanged" in again.stderr


@pytest.mark.labelstudio
def test_users_add_refuses_a_password_file_it_cannot_keep_before_making_any_login(ls_server, tmp_path):
    env = ls_server.env()
    notes = tmp_path / "notes.txt"
    notes.write_text("not ours\n", encoding="utf-8")
    result = run("ls", "users", "add", "team-refused@example.org", "--password-file", str(notes), env=env)
    assert result.returncode == 3 and "is not a corpus-tools password file" in result.stderr
    assert notes.read_text(encoding="utf-8") == "not ours\n"
    assert "team-refused@example.org" not in {u["email"] for u in ls_server.client().list_users()}
    for args in (["ls", "users", "add", "not-an-email"], ["ls", "users", "add", "x@example.org", "--json"]):
        usage = run(*args, env=env)
        assert usage.returncode == 2 and "Traceback" not in usage.stderr, usage.stderr


@pytest.mark.labelstudio
def test_users_add_keeps_the_password_of_each_login_made_before_a_signup_that_fails(ls_server, tmp_path):
    """Label Studio refuses an address our check lets through; the logins made before it keep their password."""
    env = ls_server.env()
    refused = 'x"<s>@example.org'
    passwords_path = tmp_path / "passwords.json"
    first = run("ls", "users", "add", "team-kept-1@example.org", refused, "--password-file", str(passwords_path),
                env=env)
    assert first.returncode == 3 and "refused to sign up" in first.stderr and "Traceback" not in first.stderr
    kept = read_password_file(passwords_path, ls_server.url)
    assert list(kept) == ["team-kept-1@example.org"]
    assert user_api_key(ls_server.url, "team-kept-1@example.org", kept["team-kept-1@example.org"])

    printed = run("ls", "users", "add", "team-kept-2@example.org", refused, env=env)
    assert printed.returncode == 3 and "refused to sign up" in printed.stderr
    [line] = printed.stdout.splitlines()
    email, password = line.split("\t")
    assert email == "team-kept-2@example.org" and password not in printed.stderr
    assert user_api_key(ls_server.url, email, password)


@pytest.mark.labelstudio
def test_a_wrong_password_is_refused_without_being_repeated(ls_server, ls_team):
    [annotator] = ls_team(1)
    wrong = "wrong-password-0123456789"
    with pytest.raises(AuthenticationFailed, match=f"refused the login of {annotator.email}") as caught:
        user_api_key(ls_server.url, annotator.email, wrong)
    assert wrong not in str(caught.value) and annotator.password not in str(caught.value)


@pytest.mark.labelstudio
def test_team_helper_gives_a_client_acting_as_each_annotator(ls_server, ls_project):
    project = ls_project()
    [task_id] = ls_server.client().import_tasks(project.id, [{"data": {"text": EMOJI_TEXT}}])
    team = make_team(ls_server, 3, prefix="helper")
    assert len({a.id for a in team}) == 3 and all(a.email.startswith("helper-") for a in team)
    for annotator in team:
        assert annotator.client.whoami() == {"id": annotator.id, "email": annotator.email}
        annotator.client.create_annotation(task_id, span_result(annotator.email))
    team[0].sdk().annotations.create(id=task_id, result=span_result("second"))
    by_user = ls_server.client().task_annotations(task_id)
    assert sorted(a["completed_by"] for a in by_user) == sorted([a.id for a in team] + [team[0].id])


@pytest.mark.labelstudio
def test_ground_truth_is_marked_through_the_api_as_documented(ls_server, ls_project, ls_team):
    import httpx

    project = ls_project()
    [task_id] = ls_server.client().import_tasks(project.id, [{"data": {"text": EMOJI_TEXT}}])
    first, second = ls_team(2)
    chosen = second.client.create_annotation(task_id, span_result("chosen"))
    other = first.client.create_annotation(task_id, span_result("other"))
    admin = {"Authorization": f"Token {ls_server.api_key}"}
    response = httpx.patch(f"{ls_server.url}/api/annotations/{chosen}/", json={"ground_truth": True},
                           headers=admin, timeout=30)
    assert response.status_code == 200, response.text
    listed = httpx.get(f"{ls_server.url}/api/tasks/{task_id}/annotations/", headers=admin, timeout=30).json()
    assert {a["id"]: a["ground_truth"] for a in listed} == {chosen: True, other: False}
