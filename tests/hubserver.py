"""An in-process Hugging Face Hub-protocol server for offline tests.

It answers the routes that huggingface_hub (2.x) and datasets use to create repos, commit (regular files inline,
large files through the Git-LFS batch API), tag, list refs/commits/trees and download, so publish code runs its
real client code paths against it. Xet is not implemented: clients must run with ``HF_HUB_DISABLE_XET=1``.

State is in memory: each repo holds commits as full ``{path: Blob}`` snapshots, branches and tags. Regular blob
oids are computed like git (sha1 of ``b"blob {len}\\0" + content``); LFS files are keyed by sha256, so the
client's unchanged-file detection works as on the real Hub. Write routes require ``Authorization: Bearer <token>``.
Pull requests, Xet, pagination, gating and the datasets-server are out of scope.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import itertools
import json
import re
import secrets
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

DEFAULT_TOKEN = "hf_test_dummy_token_0000"
USER = "test-user"
LFS_SIZE_THRESHOLD = 10 * 1024 * 1024  # the Hub stores larger files in LFS whatever their name
REPO_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
URL_PREFIXES = {"model": "", "dataset": "datasets/", "space": "spaces/"}
GITATTRIBUTES = "".join(
    f"{pattern} filter=lfs diff=lfs merge=lfs -text\n"
    for pattern in ("*.7z", "*.arrow", "*.bin", "*.bz2", "*.gz", "*.npy", "*.npz", "*.parquet", "*.pt",
                    "*.safetensors", "*.tar", "*.zip", "*.zst")
).encode()
YAML_BLOCK = re.compile(r"^(\s*---[\r\n]+)([\S\s]*?)([\r\n]+---(\r\n|\n|$))")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
COMMIT_SHA = re.compile(r"[0-9a-f]{40}")
_counter = itertools.count()


def git_blob_oid(data: bytes) -> str:
    """The object id git gives a blob with this content."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Blob:
    """File content plus how the repo stores it (inline git blob or LFS object)."""

    __slots__ = ("data", "lfs", "sha256", "oid", "pointer_size")

    def __init__(self, data: bytes, lfs: bool = False):
        self.data = data
        self.lfs = lfs
        self.sha256 = hashlib.sha256(data).hexdigest()
        pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\nsize {len(data)}\n".encode()
        self.pointer_size = len(pointer)
        self.oid = git_blob_oid(pointer if lfs else data)  # git stores a pointer for LFS files

    def entry(self, path: str) -> dict:
        out: dict = {"type": "file", "oid": self.oid, "size": len(self.data), "path": path}
        if self.lfs:
            out["lfs"] = {"oid": self.sha256, "size": len(self.data), "pointerSize": self.pointer_size}
        return out


@dataclass(frozen=True)
class Commit:
    """One commit: a full snapshot of the repo's files."""

    oid: str
    parents: tuple[str, ...]
    title: str
    message: str
    author: str
    date: str
    blobs: Mapping[str, Blob]

    @property
    def files(self) -> dict[str, bytes]:
        return {path: blob.data for path, blob in self.blobs.items()}

    @property
    def lfs_paths(self) -> frozenset[str]:
        return frozenset(path for path, blob in self.blobs.items() if blob.lfs)


@dataclass
class Repo:
    repo_type: str
    repo_id: str
    private: bool = False
    created_at: str = field(default_factory=_now)
    commits: dict[str, Commit] = field(default_factory=dict)  # oid -> commit, in creation order
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    tag_messages: dict[str, str] = field(default_factory=dict)
    lfs: dict[str, bytes] = field(default_factory=dict)  # sha256 -> uploaded LFS object

    def resolve(self, rev: str) -> Commit | None:
        """A branch, tag, ``refs/heads/*``, ``refs/tags/*`` or full commit sha."""
        for prefix, refs in (("refs/heads/", self.branches), ("refs/tags/", self.tags)):
            if rev.startswith(prefix):
                oid = refs.get(rev[len(prefix):])
                return self.commits.get(oid) if oid else None
        oid = self.branches.get(rev) or self.tags.get(rev) or rev
        return self.commits.get(oid)

    def history(self, commit: Commit) -> list[Commit]:
        """First-parent history, newest first."""
        out = [commit]
        while out[-1].parents:
            out.append(self.commits[out[-1].parents[0]])
        return out

    def lfs_patterns(self, commit: Commit) -> list[str]:
        blob = commit.blobs.get(".gitattributes")
        text = blob.data.decode("utf-8", "replace") if blob else ""
        return [line.split()[0] for line in text.splitlines() if "filter=lfs" in line.split()[1:]]


@dataclass(frozen=True)
class RepoState:
    """A read-only snapshot of one repo, for assertions in tests."""

    repo_type: str
    repo_id: str
    private: bool
    branches: dict[str, str]
    tags: dict[str, str]
    tag_messages: dict[str, str]
    commits: tuple[Commit, ...]  # every commit, oldest first
    lfs_objects: frozenset[str]  # sha256 of every LFS object uploaded

    def commit(self, rev: str = "main") -> Commit:
        """The commit a branch, tag or sha points at (KeyError if none)."""
        oid = self.branches.get(rev) or self.tags.get(rev) or rev
        for commit in self.commits:
            if commit.oid == oid:
                return commit
        raise KeyError(rev)

    def head(self, branch: str = "main") -> str:
        return self.branches[branch]

    def files(self, rev: str = "main") -> dict[str, bytes]:
        return self.commit(rev).files


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str  # unquoted, without the query string
    status: int


class HubHTTPError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, headers: dict | None = None,
                 extra: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers or {}
        self.extra = extra or {}  # more keys for the JSON body


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def _json(obj: object, status: int = 200, headers: dict | None = None) -> Response:
    return Response(status, json.dumps(obj).encode(), {"Content-Type": "application/json", **(headers or {})})


def _not_found(kind: str, message: str, headers: dict | None = None) -> HubHTTPError:
    return HubHTTPError(404, message, kind, headers)


def _card_data(commit: Commit) -> dict | None:
    blob = commit.blobs.get("README.md")
    match = YAML_BLOCK.search(blob.data.decode("utf-8", "replace")) if blob else None
    if not match:
        return None
    try:
        data = yaml.safe_load(match.group(2))
    except yaml.YAMLError:
        return None
    return data if isinstance(data, dict) else None


def validate_card_yaml(content: str) -> list[str]:
    """Errors the Hub's validate-yaml route reports for a README (a small subset of the real rules)."""
    match = YAML_BLOCK.search(content)
    if not match:
        return []
    try:
        data = yaml.safe_load(match.group(2))
    except yaml.YAMLError as exc:
        return [f"Invalid YAML in README.md front matter: {exc}".replace("\n", " ")]
    if data is None:
        return []
    if not isinstance(data, dict):
        return ["README.md metadata must be a YAML mapping"]
    errors = []
    configs = data.get("configs", [])
    if not isinstance(configs, list) or not all(isinstance(c, dict) for c in configs):
        errors.append('"configs" must be a list of mappings')
    else:
        for i, cfg in enumerate(configs):
            if not isinstance(cfg.get("config_name"), str):
                errors.append(f'"configs[{i}].config_name" must be a string')
            if "data_files" in cfg and not isinstance(cfg["data_files"], str | list | dict):
                errors.append(f'"configs[{i}].data_files" must be a string, list or mapping')
    if "dataset_info" in data and not isinstance(data["dataset_info"], dict | list):
        errors.append('"dataset_info" must be a mapping or a list')
    for key in ("license", "language", "tags", "task_categories"):
        value = data.get(key)
        if value is not None and not (isinstance(value, str) or
                                      (isinstance(value, list) and all(isinstance(v, str) for v in value))):
            errors.append(f'"{key}" must be a string or a list of strings')
    return errors


class HubServer:
    """The server; start it, read ``.url``, inspect repos with ``.repo()``, close it with ``.close()``."""

    def __init__(self, token: str = DEFAULT_TOKEN, host: str = "127.0.0.1", port: int = 0):
        self.token = token
        self._lock = threading.RLock()
        self._repos: dict[tuple[str, str], Repo] = {}
        self._uploads: dict[str, tuple[tuple[str, str], str, int]] = {}  # ticket -> (repo key, sha256, size)
        self._injected: dict[tuple[str, str], list[tuple[dict, str, str]]] = {}
        self._faults: list[list] = []  # [method, path substring, status, remaining]
        self.requests: list[RequestRecord] = []
        self._httpd = ThreadingHTTPServer((host, port), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.hub = self  # type: ignore[attr-defined]
        self.url = f"http://{host}:{self._httpd.server_address[1]}"
        self._thread: threading.Thread | None = None

    # ---- lifecycle ------------------------------------------------------------------------------------------------
    def start(self) -> HubServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="hub-test-server", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving. Idempotent; never blocks when the serving thread is already gone."""
        thread, self._thread = self._thread, None
        if thread is not None and thread.is_alive():
            self._httpd.shutdown()
            thread.join(timeout=5)
        self._httpd.server_close()

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- inspection and simulation (called by tests, not over HTTP) -----------------------------------------------
    def repo(self, repo_id: str, repo_type: str = "dataset") -> RepoState:
        with self._lock:
            repo = self._repos[(repo_type, repo_id)]
            return RepoState(repo.repo_type, repo.repo_id, repo.private, dict(repo.branches), dict(repo.tags),
                             dict(repo.tag_messages), tuple(repo.commits.values()), frozenset(repo.lfs))

    def has_repo(self, repo_id: str, repo_type: str = "dataset") -> bool:
        with self._lock:
            return (repo_type, repo_id) in self._repos

    def create_repo(self, repo_id: str, repo_type: str = "dataset", private: bool = False) -> RepoState:
        """Create a repo directly (as someone else would); raises KeyError if it exists."""
        with self._lock:
            if (repo_type, repo_id) in self._repos:
                raise KeyError(f"{repo_type} repo {repo_id} exists")
            repo = Repo(repo_type, repo_id, private)
            self._repos[(repo_type, repo_id)] = repo
            self._new_commit(repo, "main", {".gitattributes": Blob(GITATTRIBUTES)}, "initial commit", "", USER)
        return self.repo(repo_id, repo_type)

    def commit_as_other(self, repo_id: str, files: Mapping[str, bytes | str | None], *,
                        message: str = "Concurrent edit", branch: str = "main", repo_type: str = "dataset",
                        author: str = "someone-else") -> str:
        """Commit directly on ``branch`` as another user; ``None`` deletes a path. Returns the new commit's oid."""
        with self._lock:
            repo = self._repos[(repo_type, repo_id)]
            return self._commit_files(repo, branch, files, message, author)

    def inject_before_next_commit(self, repo_id: str, files: Mapping[str, bytes | str | None], *,
                                  message: str = "Concurrent edit", repo_type: str = "dataset",
                                  author: str = "someone-else") -> None:
        """Arm a one-shot race: when the next commit request for this repo arrives, this commit lands first.

        The request then sees a moved head, so one guarded by ``parent_commit`` fails with 412.
        """
        with self._lock:
            self._injected.setdefault((repo_type, repo_id), []).append((dict(files), message, author))

    def fail_next(self, method: str, path_contains: str, status: int = 500, times: int = 1) -> None:
        """Answer the next ``times`` matching requests with ``status`` (path is the unquoted URL path).

        Note that huggingface_hub retries 5xx on some routes (preupload, LFS batch, downloads) but not on
        commit, tag or create_repo.
        """
        with self._lock:
            self._faults.append([method.upper(), path_contains, status, times])

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    def reset(self) -> None:
        """Forget every repo, armed race, fault and logged request."""
        with self._lock:
            self._repos.clear()
            self._uploads.clear()
            self._injected.clear()
            self._faults.clear()
            self.requests.clear()

    # ---- state changes ----------------------------------------------------------------------------------------------
    def _new_commit(self, repo: Repo, branch: str, blobs: dict[str, Blob], title: str, message: str,
                    author: str) -> Commit:
        parent = repo.branches.get(branch)
        seed = f"{repo.repo_id}\n{parent}\n{sorted((p, b.oid) for p, b in blobs.items())}\n{title}\n{next(_counter)}"
        commit = Commit(hashlib.sha1(seed.encode()).hexdigest(), (parent,) if parent else (), title, message,
                        author, _now(), dict(blobs))
        repo.commits[commit.oid] = commit
        repo.branches[branch] = commit.oid
        return commit

    def _is_lfs(self, repo: Repo, commit: Commit, path: str, size: int) -> bool:
        name = path.rsplit("/", 1)[-1]
        return size > LFS_SIZE_THRESHOLD or any(
            fnmatch.fnmatchcase(path if "/" in pattern.strip("/") else name, pattern.lstrip("/"))
            for pattern in repo.lfs_patterns(commit))

    def _commit_files(self, repo: Repo, branch: str, files: Mapping[str, bytes | str | None], message: str,
                      author: str) -> str:
        head = repo.commits[repo.branches[branch]]
        blobs = dict(head.blobs)
        for path, data in files.items():
            if data is None:
                blobs.pop(path, None)
                continue
            raw = data.encode() if isinstance(data, str) else data
            lfs = self._is_lfs(repo, head, path, len(raw))
            if lfs:
                repo.lfs[hashlib.sha256(raw).hexdigest()] = raw
            blobs[path] = Blob(raw, lfs)
        return self._new_commit(repo, branch, blobs, message, "", author).oid

    # ---- HTTP entry point -------------------------------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Response:
        split = urlsplit(target)
        query = parse_qs(split.query)
        try:
            with self._lock:
                for fault in self._faults:
                    if fault[0] == method and fault[1] in unquote(split.path) and fault[3] > 0:
                        fault[3] -= 1
                        raise HubHTTPError(fault[2], f"injected failure ({fault[2]})")
                response = self._route(method, split.path, query, headers, body)
        except HubHTTPError as exc:
            err_headers = {"X-Error-Code": exc.code} if exc.code else {}
            response = _json({"error": exc.message, **exc.extra}, exc.status, {**err_headers, **exc.headers})
        except ValueError as exc:  # malformed JSON, ndjson or base64 in the request
            response = _json({"error": f"malformed request: {exc}"}, 400)
        except Exception as exc:  # a bug in this server: answer 500 rather than dropping the connection
            response = _json({"error": f"test server error: {type(exc).__name__}: {exc}"}, 500)
        with self._lock:
            self.requests.append(RequestRecord(method, unquote(split.path), response.status))
        return response

    def _authorized(self, headers: Mapping[str, str], write: bool) -> bool:
        auth = headers.get("Authorization") or headers.get("authorization") or ""
        if not auth:
            if write:
                raise HubHTTPError(401, "You must be authenticated to perform this action")
            return False
        if auth != f"Bearer {self.token}":
            raise HubHTTPError(401, "Invalid credentials in Authorization header",
                               headers={"X-Error-Message": "Invalid credentials in Authorization header"})
        return True

    def _get_repo(self, repo_type: str, repo_id: str, authorized: bool) -> Repo:
        repo = self._repos.get((repo_type, repo_id))
        if repo is None or (repo.private and not authorized):
            raise _not_found("RepoNotFound", f"Repository Not Found: {repo_type}s/{repo_id}")
        return repo

    def _get_commit(self, repo: Repo, rev: str) -> Commit:
        commit = repo.resolve(rev)
        if commit is None:
            raise _not_found("RevisionNotFound", f"Invalid rev id: {rev}")
        return commit

    def _route(self, method: str, raw_path: str, query: dict, headers: Mapping[str, str], body: bytes) -> Response:
        segs = raw_path.split("/")[1:]
        if segs[:1] == ["api"]:
            return self._route_api(method, segs[1:], query, headers, body)
        if segs[:1] == ["lfs-upload"] and method == "PUT" and len(segs) == 2:
            return self._lfs_put(segs[1], body)
        repo_type = {"datasets": "dataset", "spaces": "space"}.get(segs[0], "model")  # models have no prefix
        if repo_type != "model":
            segs = segs[1:]
        if len(segs) == 6 and segs[1].endswith(".git") and segs[2:] == ["info", "lfs", "objects", "batch"]:
            repo_id = f"{unquote(segs[0])}/{unquote(segs[1][:-4])}"
            if method == "POST":
                return self._lfs_batch(repo_type, repo_id, headers, body)
        if len(segs) >= 5 and segs[2] == "resolve" and method in ("GET", "HEAD"):
            repo = self._get_repo(repo_type, f"{unquote(segs[0])}/{unquote(segs[1])}", self._authorized(headers, False))
            rev, rest = _split_rev(segs[3:])
            return self._resolve_file(repo, rev, unquote("/".join(rest)), method, headers)
        raise HubHTTPError(404, f"no route for {method} {raw_path}")

    def _route_api(self, method: str, segs: list[str], query: dict, headers: Mapping[str, str],
                   body: bytes) -> Response:
        if segs == ["whoami-v2"] and method == "GET":
            self._authorized(headers, True)
            return _json({"type": "user", "name": USER, "fullname": "Test User", "orgs": [],
                          "auth": {"type": "access_token", "accessToken": {"displayName": "test", "role": "write"}}})
        if segs == ["validate-yaml"] and method == "POST":
            errors = validate_card_yaml(str(json.loads(body or b"{}").get("content", "")))
            if "text/plain" in (headers.get("Accept") or ""):  # RepoCard.validate asks for text
                return Response(400 if errors else 200, "\n".join(errors).encode(), {"Content-Type": "text/plain"})
            return _json({"errors": [{"message": e} for e in errors], "warnings": []}, 400 if errors else 200)
        if segs[:1] == ["repos"] and len(segs) == 2 and segs[1] in ("create", "delete"):
            self._authorized(headers, True)
            payload = json.loads(body or b"{}")
            repo_type, name = payload.get("type") or "model", str(payload.get("name") or "")
            if repo_type not in URL_PREFIXES or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
                raise HubHTTPError(400, f"Invalid repo type or name: {repo_type!r} {name!r}")
            repo_id = f"{payload.get('organization') or USER}/{name}"
            url = f"{self.url}/{URL_PREFIXES[repo_type]}{repo_id}"
            if segs[1] == "create" and method == "POST":
                if (repo_type, repo_id) in self._repos:  # the Hub's 409 carries the url too (create_repo exist_ok)
                    raise HubHTTPError(409, "You already created this repo", extra={"url": url})
                self.create_repo(repo_id, repo_type, payload.get("visibility") == "private"
                                 or bool(payload.get("private")))
                return _json({"url": url, "name": repo_id})
            if segs[1] == "delete" and method == "DELETE":
                self._get_repo(repo_type, repo_id, True)
                del self._repos[(repo_type, repo_id)]
                return _json({})
        if len(segs) < 3 or segs[0] not in REPO_TYPES:
            raise HubHTTPError(404, f"no route for {method} /api/{'/'.join(segs)}")
        repo_type, repo_id = REPO_TYPES[segs[0]], f"{unquote(segs[1])}/{unquote(segs[2])}"
        action, rest = (segs[3] if len(segs) > 3 else ""), segs[4:]
        write = method in ("POST", "PUT", "DELETE") and action != "paths-info"
        repo = self._get_repo(repo_type, repo_id, self._authorized(headers, write))
        if method == "GET" and action in ("", "revision"):
            rev = unquote("/".join(rest)) if action else "main"
            return _json(self._repo_info(repo, self._get_commit(repo, rev), _flag(query, "blobs")))
        if method == "GET" and action == "refs":
            return _json({"branches": [_ref(n, "heads", o) for n, o in repo.branches.items()],
                          "tags": [_ref(n, "tags", o) for n, o in repo.tags.items()],
                          "converts": [], "pullRequests": []})
        if method == "GET" and action == "commits":
            commits = repo.history(self._get_commit(repo, unquote("/".join(rest)) or "main"))
            return _json([{"id": c.oid, "title": c.title, "message": c.message, "date": c.date,
                           "authors": [{"user": c.author, "avatar": None}]} for c in commits])
        if method == "GET" and action == "tree" and rest:
            rev, path = _split_rev(rest)
            return _json(self._tree(repo, self._get_commit(repo, rev), unquote("/".join(path)).strip("/"),
                                    _flag(query, "recursive"), _flag(query, "expand")))
        if method == "POST" and action == "paths-info" and rest:
            return _json(self._paths_info(repo, self._get_commit(repo, unquote("/".join(rest))), headers, body))
        if method == "POST" and action == "preupload" and rest:
            return _json(self._preupload(repo, self._get_commit(repo, unquote("/".join(rest))), body))
        if method == "POST" and action == "commit" and rest:
            if _flag(query, "create_pr"):
                raise HubHTTPError(400, "pull requests are not supported by the test server")
            return _json(self._commit(repo, unquote("/".join(rest)), body))
        if action in ("tag", "branch") and rest and method in ("POST", "DELETE"):
            return _json(self._ref_change(repo, action, method, unquote("/".join(rest)), json.loads(body or b"{}")))
        if method == "PUT" and action == "settings":
            repo.private = json.loads(body or b"{}").get("private", repo.private)
            return _json({"private": repo.private})
        raise HubHTTPError(404, f"no route for {method} /api/{'/'.join(segs)}")

    # ---- route handlers ---------------------------------------------------------------------------------------------
    def _repo_info(self, repo: Repo, commit: Commit, blobs: bool) -> dict:
        siblings = []
        for path in sorted(commit.blobs):
            sibling: dict = {"rfilename": path}
            if blobs:
                blob = commit.blobs[path]
                sibling.update(size=len(blob.data), blobId=blob.oid)
                if blob.lfs:
                    sibling["lfs"] = {"size": len(blob.data), "sha256": blob.sha256, "pointerSize": blob.pointer_size}
            siblings.append(sibling)
        info = {"_id": hashlib.md5(repo.repo_id.encode()).hexdigest()[:24], "id": repo.repo_id,
                "author": repo.repo_id.split("/")[0], "sha": commit.oid, "lastModified": commit.date,
                "createdAt": repo.created_at, "private": repo.private, "gated": False, "disabled": False,
                "downloads": 0, "likes": 0, "tags": [], "siblings": siblings,
                "usedStorage": sum(len(b.data) for b in commit.blobs.values())}
        card = _card_data(commit)
        if card is not None:
            info["cardData"] = card
        if repo.repo_type == "model":
            info["modelId"] = repo.repo_id
        return info

    def _entry(self, repo: Repo, commit: Commit, path: str, expand: bool) -> dict | None:
        blob = commit.blobs.get(path)
        if blob is not None:
            entry = blob.entry(path)
        else:
            children = sorted((p, b.oid) for p, b in commit.blobs.items() if p.startswith(path + "/"))
            if not children:
                return None
            entry = {"type": "directory", "oid": hashlib.sha1(repr(children).encode()).hexdigest(), "size": 0,
                     "path": path}
        if expand:
            last = self._last_change(repo, commit, path)
            entry["lastCommit"] = {"id": last.oid, "title": last.title, "date": last.date}
        return entry

    def _last_change(self, repo: Repo, commit: Commit, path: str) -> Commit:
        def state(c: Commit) -> object:
            return sorted((p, b.oid) for p, b in c.blobs.items() if p == path or p.startswith(path + "/"))

        history = repo.history(commit)
        for newer, older in itertools.pairwise(history):
            if state(newer) != state(older):
                return newer
        return history[-1]

    def _tree(self, repo: Repo, commit: Commit, path: str, recursive: bool, expand: bool) -> list[dict]:
        if path and (path in commit.blobs or self._entry(repo, commit, path, False) is None):
            raise _not_found("EntryNotFound", f"{path} does not exist or is not a directory",
                             {"X-Repo-Commit": commit.oid})
        prefix = f"{path}/" if path else ""
        names: set[str] = set()
        for file_path in commit.blobs:
            if file_path.startswith(prefix):
                parts = file_path[len(prefix):].split("/")
                depth = len(parts) if recursive else 1
                names.update(prefix + "/".join(parts[:i]) for i in range(1, depth + 1))
        entries = [self._entry(repo, commit, name, expand) for name in sorted(names)]
        return sorted((e for e in entries if e), key=lambda e: (e["type"] != "directory", e["path"]))

    def _paths_info(self, repo: Repo, commit: Commit, headers: Mapping[str, str], body: bytes) -> list[dict]:
        if "json" in (headers.get("Content-Type") or ""):
            payload = json.loads(body or b"{}")
            paths, expand = payload.get("paths", []), bool(payload.get("expand"))
        else:
            form = parse_qs(body.decode())
            paths, expand = form.get("paths", []), _flag(form, "expand")
        entries = [self._entry(repo, commit, str(p).strip("/"), expand) for p in paths]
        return [e for e in entries if e]

    def _preupload(self, repo: Repo, commit: Commit, body: bytes) -> dict:
        files = []
        for item in json.loads(body or b"{}").get("files", []):
            path, existing = item["path"], commit.blobs.get(item["path"])
            files.append({"path": path, "shouldIgnore": False,
                          "uploadMode": "lfs" if self._is_lfs(repo, commit, path, int(item.get("size", 0))) else
                          "regular",
                          "oid": (existing.sha256 if existing.lfs else existing.oid) if existing else None})
        return {"files": files, "commit": commit.oid}

    def _commit(self, repo: Repo, branch: str, body: bytes) -> dict:
        if branch not in repo.branches:
            raise _not_found("RevisionNotFound", f"Invalid rev id: {branch} (commits go to a branch)")
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            raise HubHTTPError(400, "the first ndjson line must be the commit header")
        header = lines[0]["value"]
        for files, message, author in self._injected.pop((repo.repo_type, repo.repo_id), []):
            self._commit_files(repo, branch, files, message, author)
        head = repo.branches[branch]
        parent = header.get("parentCommit")
        if parent is not None and parent != head:
            raise HubHTTPError(412, f"A commit has happened since. Please refresh and try again. "
                                    f"(parent {parent} is not the head {head} of {branch})")
        blobs = dict(repo.commits[head].blobs)
        for line in lines[1:]:
            key, value = line.get("key"), line.get("value") or {}
            path = _checked_path(value.get("path", ""))
            if key == "file":
                content = value.get("content", "")
                blobs[path] = Blob(base64.b64decode(content) if value.get("encoding") == "base64"
                                   else content.encode())
            elif key == "lfsFile":
                oid = value.get("oid", "")
                data = repo.lfs.get(oid)
                if data is None or ("size" in value and value["size"] != len(data)):
                    raise HubHTTPError(400, f"LFS object {oid} for {path} was not uploaded to this repo")
                blobs[path] = Blob(data, lfs=True)
            elif key == "deletedFile":
                if blobs.pop(path, None) is None:
                    raise _not_found("EntryNotFound", f"A file with this name doesn't exist: {path}")
            elif key == "deletedFolder":
                doomed = [p for p in blobs if p.startswith(path.rstrip("/") + "/")]
                if not doomed:
                    raise _not_found("EntryNotFound", f"A folder with this name doesn't exist: {path}")
                for p in doomed:
                    del blobs[p]
            else:
                raise HubHTTPError(400, f"unknown commit operation {key!r}")
        commit = self._new_commit(repo, branch, blobs, header.get("summary") or "Update",
                                  header.get("description") or "", USER)
        return {"success": True, "commitOid": commit.oid, "pullRequestUrl": None,
                "commitUrl": f"{self.url}/{URL_PREFIXES[repo.repo_type]}{repo.repo_id}/commit/{commit.oid}"}

    def _ref_change(self, repo: Repo, kind: str, method: str, name: str, payload: dict) -> dict:
        refs = repo.tags if kind == "tag" else repo.branches
        if method == "DELETE":
            if name not in refs:
                raise _not_found("RevisionNotFound", f"Invalid rev id: {name}")
            if kind == "branch" and name == "main":
                raise HubHTTPError(403, "Cannot delete the default branch")
            del refs[name]
            if kind == "tag":
                repo.tag_messages.pop(name, None)
            return {}
        if kind == "tag":  # POST /tag/{rev} {tag, message}
            target, tag = self._get_commit(repo, name), str(payload.get("tag", ""))
        else:  # POST /branch/{name} {startingPoint}
            target, tag = self._get_commit(repo, str(payload.get("startingPoint") or "main")), name
        if not tag or not re.fullmatch(r"[A-Za-z0-9._/-]+", tag) or ".." in tag or tag.startswith(("-", "/")):
            raise HubHTTPError(400, f"Invalid {kind} name: {tag!r}")
        if tag in refs:
            raise HubHTTPError(409, f"{kind.capitalize()} {tag} already exists", headers={
                "X-Error-Message": f"{kind.capitalize()} already exists"})
        refs[tag] = target.oid
        if kind == "tag":
            repo.tag_messages[tag] = str(payload.get("message") or "")
        return {}

    def _lfs_batch(self, repo_type: str, repo_id: str, headers: Mapping[str, str], body: bytes) -> Response:
        repo = self._get_repo(repo_type, repo_id, self._authorized(headers, True))
        payload = json.loads(body or b"{}")
        if payload.get("operation") != "upload":
            raise HubHTTPError(422, "only the upload operation is supported by the test server")
        objects = []
        for obj in payload.get("objects", []):
            oid, size = obj.get("oid"), obj.get("size")
            if not isinstance(oid, str) or not SHA256_HEX.fullmatch(oid) or not isinstance(size, int) or size < 0:
                objects.append({"oid": str(oid), "size": size if isinstance(size, int) else -1,
                                "error": {"code": 422, "message": "invalid oid or size"}})
            elif oid in repo.lfs:
                objects.append({"oid": oid, "size": size, "authenticated": True})
            else:
                ticket = secrets.token_hex(16)
                self._uploads[ticket] = ((repo_type, repo_id), oid, size)
                objects.append({"oid": oid, "size": size, "authenticated": True,
                                "actions": {"upload": {"href": f"{self.url}/lfs-upload/{ticket}"}}})
        return _json({"transfer": "basic", "objects": objects}, headers={"Content-Type":
                                                                           "application/vnd.git-lfs+json"})

    def _lfs_put(self, ticket: str, body: bytes) -> Response:
        upload = self._uploads.get(ticket)
        if upload is None:
            raise HubHTTPError(403, "unknown or expired upload URL")
        key, oid, size = upload
        if len(body) != size or hashlib.sha256(body).hexdigest() != oid:
            raise HubHTTPError(400, f"uploaded content does not match oid {oid} / size {size}")
        if key in self._repos:
            self._repos[key].lfs[oid] = body
        return Response(200)

    def _resolve_file(self, repo: Repo, rev: str, path: str, method: str, headers: Mapping[str, str]) -> Response:
        commit = self._get_commit(repo, rev)
        blob = commit.blobs.get(path)
        if blob is None:
            raise _not_found("EntryNotFound", f"Entry not found: {path}", {"X-Repo-Commit": commit.oid})
        data, total = blob.data, len(blob.data)
        etag = blob.sha256 if blob.lfs else blob.oid
        out = {"X-Repo-Commit": commit.oid, "ETag": f'"{etag}"', "Accept-Ranges": "bytes",
               "Content-Type": "application/octet-stream"}
        if blob.lfs:
            out.update({"X-Linked-Etag": f'"{etag}"', "X-Linked-Size": str(total)})
        status = 200
        wanted = headers.get("Range")
        if wanted:
            span = _parse_range(wanted, total)
            if span is None:
                raise HubHTTPError(416, "Requested range not satisfiable",
                                   headers={"Content-Range": f"bytes */{total}"})
            start, end = span
            data, status = data[start:end + 1], 206
            out["Content-Range"] = f"bytes {start}-{end}/{total}"
        out["Content-Length"] = str(len(data))
        return Response(status, b"" if method == "HEAD" else data, out)


def _parse_range(header: str, total: int) -> tuple[int, int] | None:
    match = re.fullmatch(r"bytes=(\d*)-(\d*)", header.strip())
    if not match or match.group(1) == match.group(2) == "":
        return None
    if match.group(1) == "":  # suffix range: the last N bytes
        start, end = max(total - int(match.group(2)), 0), total - 1
    else:
        start = int(match.group(1))
        end = min(int(match.group(2)), total - 1) if match.group(2) else total - 1
    return (start, end) if start <= end and start < total else None


def _split_rev(segs: list[str]) -> tuple[str, list[str]]:
    """Split ``{rev}/{path...}``; the rev is normally one quoted segment, but tolerate raw ``refs/x/y``."""
    if segs and segs[0] == "refs" and len(segs) >= 3:
        return "/".join(segs[:3]), segs[3:]
    return unquote(segs[0]) if segs else "main", segs[1:]


def _checked_path(path: str) -> str:
    if not path or path.startswith("/") or any(part in ("", ".", "..") for part in path.rstrip("/").split("/")):
        raise HubHTTPError(400, f"Invalid path in commit: {path!r}")
    return path


def _flag(query: dict, name: str) -> bool:
    values = query.get(name) or ["false"]
    return str(values[0]).lower() in ("1", "true", "yes")


def _ref(name: str, kind: str, oid: str) -> dict:
    return {"name": name, "ref": f"refs/{kind}/{name}", "targetCommit": oid}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "HubTestServer/1.0"

    def log_message(self, format: str, *args: object) -> None:  # quiet: requests are recorded in .requests
        pass

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():  # trailers
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _serve(self, method: str) -> None:
        body = self._read_body()
        response = self.server.hub.handle(method, self.path, self.headers, body)  # type: ignore[attr-defined]
        self.send_response(response.status)
        response.headers.setdefault("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value.encode("ascii", "replace").decode())
        # headers and body in one write: two small writes meet delayed ACKs and cost ~40 ms per request
        self._headers_buffer.append(b"\r\n" + (b"" if method == "HEAD" else response.body))
        self.flush_headers()

    def do_GET(self) -> None:
        self._serve("GET")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")
