"""A team of annotators on one Label Studio: overlap settings, logins, and each annotator's API key.

* :func:`set_overlap`: Label Studio's own overlap settings of a project (``maximum_annotations``: up to
  that many annotations per task; ``overlap_cohort_percentage``: on that share of the tasks, the others get
  one), changed only when they differ, and read back;
* :func:`add_users`: annotator logins made with Label Studio's own invitation link (``GET /api/invite``
  gives the organisation's token; the signup form ``/user/signup/?token=...`` creates the user with a
  password and makes them a member of the organisation, so they see its projects).  ``POST /api/users/``
  is not enough in the community edition: it ignores the password, so the user could never log in.  A user
  who exists already is reported as existing and left alone;
* :func:`write_password_file`: the new passwords in a JSON file only its owner can read, merged into what
  the file held;
* :func:`user_api_key`: a user's API key from their e-mail and password (a session login, then the legacy
  token when the organisation allows legacy tokens, else a new personal access token);
* :func:`list_team`: the organisation's users, and how many tasks of a project each has annotated.

Passwords, the invitation token and API keys are secrets: no message or exception carries one (messages are
built from our own text and redacted), and :class:`NewUser` keeps its password out of its ``repr``.
"""

from __future__ import annotations

import html
import json
import re
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from corpus_tools.errors import AuthenticationFailed, ConnectionFailed, LabelStudioError, OutputError
from corpus_tools.files import write_file_atomically
from corpus_tools.labelstudio.client import LabelStudioClient, ProjectInfo
from corpus_tools.text import redact

PASSWORD_BYTES = 18  # 24 URL-safe characters; Label Studio asks for 8 to 128
PASSWORD_FILE_MODE = 0o600
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_FIELD_ERRORS = re.compile(r'(?s)<ul class="field_errors">(.*?)</ul>')
_ITEM = re.compile(r"(?s)<li>(.*?)</li>")
_EXISTS = "already exists"


# ---------------------------------------------------------------------------- overlap


@dataclass(frozen=True)
class Overlap:
    """Label Studio's overlap settings: up to ``maximum_annotations`` annotations per task on
    ``percentage`` % of the tasks (the other tasks get one annotation)."""

    maximum_annotations: int
    percentage: int

    def to_dict(self) -> dict[str, int]:
        return {"maximum_annotations": self.maximum_annotations, "overlap_cohort_percentage": self.percentage}


@dataclass(frozen=True)
class OverlapResult:
    """The settings before and after :func:`set_overlap`; ``changed`` names the fields it changed."""

    before: Overlap
    after: Overlap

    @property
    def changed(self) -> tuple[str, ...]:
        old, new = self.before.to_dict(), self.after.to_dict()
        return tuple(name for name in old if old[name] != new[name])


def share_to_percentage(share: float) -> int:
    """A share of the tasks (a fraction from 0 to 1) as the whole percentage Label Studio stores (0.5 → 50).

    Raises ``ValueError`` outside 0..1."""
    if not 0 <= share <= 1:  # NaN fails too
        raise ValueError(f"{share} is not a share from 0 to 1 (0.5 means half of the tasks)")
    return round(share * 100)


def project_overlap(project: ProjectInfo) -> Overlap:
    return Overlap(project.maximum_annotations, project.overlap_cohort_percentage)


def set_overlap(client: LabelStudioClient, project_id: int, *, maximum_annotations: int | None = None,
                percentage: int | None = None) -> OverlapResult:
    """Set the project's overlap settings (``None`` keeps one as it is); nothing is sent when they are already
    so.  The settings are read back: a server that did not keep them is a :class:`LabelStudioError`."""
    if maximum_annotations is not None and maximum_annotations < 1:
        raise ValueError(f"maximum annotations per task must be at least 1, not {maximum_annotations}")
    if percentage is not None and not 0 <= percentage <= 100:
        raise ValueError(f"overlap percentage must be from 0 to 100, not {percentage}")
    before = project_overlap(client.get_project(project_id))
    wanted = Overlap(before.maximum_annotations if maximum_annotations is None else maximum_annotations,
                     before.percentage if percentage is None else percentage)
    if wanted == before:
        return OverlapResult(before, before)
    after = project_overlap(client.update_project(
        project_id,
        maximum_annotations=None if wanted.maximum_annotations == before.maximum_annotations
        else wanted.maximum_annotations,
        overlap_cohort_percentage=None if wanted.percentage == before.percentage else wanted.percentage,
    ))
    if after != wanted:
        raise LabelStudioError(f"Label Studio at {client.url} kept the overlap of project {project_id} as"
                               f" {after.to_dict()}, not {wanted.to_dict()}")
    return OverlapResult(before, after)


# ---------------------------------------------------------------------------- sessions


@contextmanager
def _session(url: str, secrets_: Sequence[str], action: str, timeout: float) -> Iterator[httpx.Client]:
    """An HTTP session (cookies, no redirects) whose transport errors become LabelStudioErrors."""
    where = f"Label Studio at {url}"
    try:
        with httpx.Client(base_url=url, timeout=timeout, follow_redirects=False) as session:
            yield session
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise ConnectionFailed(f"no Label Studio answered at {url} ({type(exc).__name__}); is it running?") from None
    except httpx.TimeoutException as exc:
        raise LabelStudioError(f"{where} timed out while trying to {action} ({type(exc).__name__})") from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise LabelStudioError(f"talking to {where} failed while trying to {action}: {type(exc).__name__}:"
                               f" {redact(str(exc), tuple(secrets_))}") from None


def _form_errors(page: str) -> list[str]:
    """The field errors a Label Studio login or signup page shows (``<ul class="field_errors"><li>...``)."""
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", "", item)).split())
            for block in _FIELD_ERRORS.findall(page) for item in _ITEM.findall(block)]


def _post_form(session: httpx.Client, path: str, fields: Mapping[str, str]) -> httpx.Response:
    """GET a Django form page for its CSRF cookie, then POST the form to it as a browser would."""
    page = session.get(path)
    csrf = session.cookies.get("csrftoken")
    if page.status_code != 200 or not csrf:
        raise LabelStudioError(f"Label Studio at {session.base_url} has no form at {path.split('?')[0]}"
                               f" (HTTP {page.status_code})")
    return session.post(path, data={**fields, "csrfmiddlewaretoken": csrf},
                        headers={"Referer": f"{str(session.base_url).rstrip('/')}{path.split('?')[0]}"})


def _login(session: httpx.Client, email: str, password: str) -> None:
    response = _post_form(session, "/user/login/", {"email": email, "password": password})
    if response.status_code != 302:
        errors = "; ".join(redact(e, (password,)) for e in _form_errors(response.text))
        raise AuthenticationFailed(f"Label Studio at {session.base_url} refused the login of {email}"
                                   f" ({errors or 'wrong e-mail or password'})")


def _json(response: httpx.Response, what: str) -> dict:
    if response.status_code >= 400:
        raise LabelStudioError(f"Label Studio answered HTTP {response.status_code} while trying to {what}")
    try:
        body = response.json()
    except ValueError:
        raise LabelStudioError(f"Label Studio sent an unreadable answer while trying to {what}") from None
    if not isinstance(body, dict):
        raise LabelStudioError(f"Label Studio sent an unexpected answer while trying to {what}")
    return body


def user_api_key(url: str, email: str, password: str, *, timeout: float = 60) -> str:
    """The API key of the user ``email``, logging in with their password.

    The legacy token (``GET /api/current-user/token``) when the organisation allows legacy tokens (a local
    server made by ``corpus-tools ls up`` does); otherwise a new personal access token (``POST /api/token/``),
    which Label Studio allows once per user: a second call for the same user is refused (HTTP 409).
    """
    url = url.rstrip("/")
    with _session(url, (password,), f"log in as {email}", timeout) as session:
        _login(session, email, password)
        headers = {"X-CSRFToken": session.cookies.get("csrftoken") or "", "Referer": f"{url}/"}
        settings = session.get("/api/jwt/settings")  # absent before personal access tokens: legacy only
        legacy = settings.status_code != 200 or bool(
            _json(settings, "read the API token settings").get("legacy_api_tokens_enabled"))
        if legacy:
            token = _json(session.get("/api/current-user/token"), f"read the API key of {email}").get("token")
        else:
            response = session.post("/api/token/", headers=headers)
            if response.status_code == 409:
                raise LabelStudioError(f"{email} already has a personal access token and Label Studio shows it only"
                                       " once; use it, or rotate it in the user's Account & Settings page")
            token = _json(response, f"create a personal access token for {email}").get("token")
    if not token:
        raise LabelStudioError(f"Label Studio at {url} gave no API key for {email}")
    return str(token)


# ---------------------------------------------------------------------------- users


@dataclass(frozen=True)
class NewUser:
    """One e-mail given to :func:`add_users`: ``created`` now (with its new ``password``) or existing (no password)."""

    email: str
    id: int
    created: bool
    password: str | None = field(default=None, repr=False)


def new_password() -> str:
    """A random password for a new login (``secrets``)."""
    return secrets.token_urlsafe(PASSWORD_BYTES)


def invalid_emails(emails: Sequence[str]) -> list[str]:
    """The given e-mails that are not e-mail addresses (Label Studio logs in by e-mail)."""
    return [e for e in emails if not _EMAIL.match(e)]


def add_users(client: LabelStudioClient, emails: Sequence[str], *,
              make_password: Callable[[], str] = new_password, timeout: float = 60,
              on_created: Callable[[str, str], None] | None = None) -> list[NewUser]:
    """Create a login for each e-mail that has none, with Label Studio's invitation link; in the given order.

    E-mails are compared as Label Studio stores them (lower case); one given twice is created once.  A user
    already in the organisation is returned with ``created=False`` and left alone.  Raises
    :class:`LabelStudioError` when the signup is refused (for an e-mail that belongs to another
    organisation of the server, an address Label Studio does not accept, or a password it rejects); users
    created before stay created.  ``on_created(email, password)`` is called as soon as each login is made,
    before the next signup, so that a caller keeps every password even when a later signup fails (a later
    run reports such a user as existing and never shows the password again).
    """
    bad = invalid_emails(emails)
    if bad:
        raise ValueError(f"not an e-mail address: {', '.join(bad)}")
    wanted = list(dict.fromkeys(e.strip().lower() for e in emails))
    members = {str(u["email"]).lower(): int(u["id"]) for u in client.list_users()}
    missing = [e for e in wanted if e not in members]
    passwords: dict[str, str] = {}
    if missing:
        invite = client.invite_token()
        for email in missing:
            password = make_password()
            _signup(client.url, email, password, invite, timeout)
            passwords[email] = password
            if on_created is not None:
                on_created(email, password)
        members = {str(u["email"]).lower(): int(u["id"]) for u in client.list_users()}
        lost = [e for e in missing if e not in members]
        if lost:
            raise LabelStudioError(f"Label Studio at {client.url} signed up {', '.join(lost)} but does not list them"
                                   " among the users of your organisation")
    return [NewUser(e, members[e], e in passwords, passwords.get(e)) for e in wanted]


def _signup(url: str, email: str, password: str, invite: str, timeout: float) -> None:
    path = f"/user/signup/?token={invite}"
    with _session(url, (password, invite), f"sign up {email}", timeout) as session:
        response = _post_form(session, path, {"email": email, "password": password})
    if response.status_code == 302:
        return
    errors = [redact(e, (password, invite)) for e in _form_errors(response.text)]
    if response.status_code == 403:
        raise LabelStudioError(f"Label Studio at {url} refused the invitation link (HTTP 403) while signing up"
                               f" {email}; an admin of the organisation must run this")
    if any(_EXISTS in e for e in errors):
        raise LabelStudioError(f"{email} has a login on Label Studio at {url} but is not in your organisation;"
                               " add them in Organization → People, or use another e-mail")
    detail = "; ".join(errors) or f"HTTP {response.status_code}"
    raise LabelStudioError(f"Label Studio at {url} refused to sign up {email}: {detail}")


@dataclass(frozen=True)
class TeamMember:
    """A user of the organisation; ``annotated_tasks`` in one project when one was asked for."""

    id: int
    email: str
    annotated_tasks: int | None = None

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {"id": self.id, "email": self.email}
        if self.annotated_tasks is not None:
            data["annotated_tasks"] = self.annotated_tasks
        return data


def list_team(client: LabelStudioClient, project_id: int | None = None) -> list[TeamMember]:
    """The organisation's users by id, with how many tasks of ``project_id`` each annotated when it is given."""
    counts = client.annotated_tasks_by_user(project_id) if project_id is not None else None
    return [TeamMember(int(u["id"]), str(u["email"]),
                       None if counts is None else counts.get(int(u["id"]), 0)) for u in client.list_users()]


# ---------------------------------------------------------------------------- password file


@dataclass(frozen=True)
class PasswordFileResult:
    """What :func:`write_password_file` did: the e-mails ``added``, ``replaced`` (their old password dropped)
    and ``kept``, and whether the file existed before."""

    path: Path
    existed: bool
    added: tuple[str, ...]
    replaced: tuple[str, ...]
    kept: tuple[str, ...]


def read_password_file(path: Path, url: str) -> dict[str, str]:
    """The passwords a password file holds for the server at ``url`` (none when there is no file).

    Raises :class:`OutputError` for a file that is not one of ours or that belongs to another server, so a
    caller can refuse before creating any login whose password it could not keep."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise OutputError(f"cannot read the password file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        data = json.loads(raw)
        passwords = data["passwords"]
        if not isinstance(passwords, dict) or not all(isinstance(v, str) for v in passwords.values()):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise OutputError(f"{path} exists and is not a corpus-tools password file; it is left as it is: choose"
                          " another --password-file") from None
    if str(data.get("url", "")).rstrip("/") != url.rstrip("/"):
        raise OutputError(f"{path} holds passwords for Label Studio at {data.get('url')}, not {url}; choose another"
                          " --password-file")
    return dict(passwords)


def check_password_file(path: Path, url: str) -> None:
    """Refuse (:class:`OutputError`) a password file that could not be written, before any login is created."""
    read_password_file(path, url)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"cannot write the password file {path}: no folder {folder}")
    if path.is_dir():
        raise OutputError(f"cannot write the password file {path}: it is a folder")


def write_password_file(path: Path, url: str, passwords: Mapping[str, str]) -> PasswordFileResult:
    """Merge ``passwords`` (e-mail → password) into the password file at ``path``, atomically, mode 0600.

    The file is JSON: ``{"url": ..., "passwords": {e-mail: password}}``.  It is written only when something
    is added or replaced; an existing file of another kind or server is refused (:class:`OutputError`)."""
    existed = path.exists()
    held = read_password_file(path, url)
    added = tuple(e for e in passwords if e not in held)
    replaced = tuple(e for e in passwords if e in held and held[e] != passwords[e])
    kept = tuple(e for e in held if e not in passwords or held[e] == passwords[e])
    if added or replaced:
        merged = {**held, **passwords}
        body = json.dumps({"url": url.rstrip("/"), "passwords": dict(sorted(merged.items()))}, indent=2) + "\n"
        try:
            write_file_atomically(path, body, permissions=PASSWORD_FILE_MODE, fsync=True)
        except OSError as exc:
            raise OutputError(f"cannot write the password file {path}: {exc.strerror or exc}") from None
    return PasswordFileResult(path, existed, added, replaced, kept)


def merge_password_file_results(path: Path, url: str, results: Sequence[PasswordFileResult]) -> PasswordFileResult:
    """What several :func:`write_password_file` calls into one file did together (one call per new login, each
    written as soon as the login is made)."""
    if not results:
        return PasswordFileResult(path, path.exists(), (), (), tuple(read_password_file(path, url)))
    added = tuple(e for r in results for e in r.added)
    replaced = tuple(e for r in results for e in r.replaced)
    kept = tuple(e for e in results[-1].kept if e not in added and e not in replaced)
    return PasswordFileResult(path, results[0].existed, added, replaced, kept)
