"""A thin adapter over ``label_studio_sdk`` 2.x: every SDK call of the toolkit lives here.

* :func:`resolve_connection`: ``LABEL_STUDIO_URL`` + ``LABEL_STUDIO_API_KEY`` from the
  environment take precedence over the credentials file written by ``corpus-tools ls up``;
* :class:`LabelStudioClient`: connect (``whoami``), find/create/update a project, list task
  keys and counts, import a batch of tasks (one request, one server transaction), create
  annotations and predictions, and run a snapshot export streamed to a file.

Foreign errors (the SDK's ``ApiError``, ``httpx`` transport errors, unparsable answers) are
converted where the call is made into :class:`~corpus_tools.errors.LabelStudioError`
subclasses.  The API key never appears in a message: messages are built from our own text and
the server's ``detail``, redacted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from corpus_tools.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    CorpusToolsError,
    LabelStudioError,
    OutputError,
    ProjectNotFound,
)
from corpus_tools.files import AtomicFile, cache_root, write_failure, write_file_atomically
from corpus_tools.text import redact

URL_ENV = "LABEL_STUDIO_URL"
KEY_ENV = "LABEL_STUDIO_API_KEY"
DEFAULT_URL = "http://localhost:8080"
DEFAULT_CREDENTIALS = Path(".labelstudio") / "credentials.json"
LIST_PAGE_SIZE = 1000
# Writes are never retried by the SDK: a retried import could land twice.
NO_RETRY: dict[str, Any] = {"max_retries": 0}


@dataclass(frozen=True)
class Connection:
    """Where Label Studio is and the key to use; ``source`` says where they came from."""

    url: str
    api_key: str = field(repr=False)
    source: str


def resolve_connection(
    credentials_path: Path | None = None, env: Mapping[str, str] | None = None
) -> Connection:
    """URL and key: the environment first, then the credentials file of ``corpus-tools ls up``.

    ``LABEL_STUDIO_API_KEY`` set: it is used with ``LABEL_STUDIO_URL`` (default
    ``http://localhost:8080``).  Otherwise the credentials file (default
    ``.labelstudio/credentials.json``) gives both; ``LABEL_STUDIO_URL`` alone is refused unless
    it names the file's server, so a local key is never sent to another server.
    """
    from corpus_tools.labelstudio.server import read_credentials

    env = os.environ if env is None else env
    url, key = env.get(URL_ENV, "").strip(), env.get(KEY_ENV, "").strip()
    if key:
        return Connection(url=(url or DEFAULT_URL).rstrip("/"), api_key=key, source="environment")
    path = credentials_path or DEFAULT_CREDENTIALS
    if not path.exists():
        raise LabelStudioError(
            f"no Label Studio connection: set {URL_ENV} and {KEY_ENV}, or start a local server with"
            f" `corpus-tools ls up` (no credentials file at {path})"
        )
    credentials = read_credentials(path)
    if url and url.rstrip("/") != credentials.url.rstrip("/"):
        raise LabelStudioError(f"{URL_ENV} is set to {url} but {KEY_ENV} is not set")
    return Connection(url=credentials.url.rstrip("/"), api_key=credentials.api_key, source=str(path))


def project_id_of(ref: str | int) -> int | None:
    """The project id a ``--project`` value names (ASCII digits, spaces around them allowed), or None for a title
    (``²`` and ``١٢`` are titles: ``isdigit()`` accepts them, and ``int()`` refuses the first)."""
    if type(ref) is int:
        return ref
    digits = ref.strip() if isinstance(ref, str) else ""  # Label Studio strips a title's spaces: " 12 " is 12
    return int(digits) if digits.isascii() and digits.isdigit() else None


def _or(value: object, default: int) -> object:
    return default if value is None else value


def _detail(body: object, secrets: tuple[str, ...] = ()) -> str:
    """A short one-line message from an error body (``detail``, validation errors, or text), with the secrets
    redacted before it is cut short (a cut through a secret would leave its first characters)."""
    if isinstance(body, Mapping):
        detail = next((str(body[k]) for k in ("detail", "error", "message") if body.get(k)), "")
        errors = body.get("validation_errors")
        if errors:
            detail = f"{detail}: {json.dumps(errors, ensure_ascii=False)}" if detail else json.dumps(errors)
        text = detail or json.dumps(body, ensure_ascii=False)
    else:
        text = str(body or "").strip()
        if text.lstrip().startswith("<"):
            return "an HTML page, not the Label Studio API"
    return " ".join(redact(text, secrets).split())[:300]


@dataclass(frozen=True)
class ProjectInfo:
    id: int
    title: str
    label_config: str
    expert_instruction: str
    task_number: int
    created_at: str
    maximum_annotations: int = 1  # Label Studio's overlap: up to this many annotations per task,
    overlap_cohort_percentage: int = 100  # on this percentage of the tasks (the others get one)


@dataclass(frozen=True)
class ExportResult:
    """A finished snapshot export written to ``path``."""

    path: Path
    export_id: int
    bytes: int
    seconds: float


class LabelStudioClient:
    """One connection to one Label Studio server."""

    def __init__(self, connection: Connection, *, timeout: float = 60) -> None:
        from label_studio_sdk import LabelStudio

        self.connection = connection
        self.url = connection.url
        self._key = connection.api_key
        with self._errors("connect to"):
            self._sdk = LabelStudio(base_url=connection.url, api_key=connection.api_key, timeout=timeout)

    @classmethod
    def connect(cls, connection: Connection | None = None, **kwargs: Any) -> LabelStudioClient:
        """Resolve the connection, create the client and check the key with ``whoami``."""
        client = cls(connection or resolve_connection(), **kwargs)
        client.whoami()
        return client

    # -------------------------------------------------------------- errors

    @contextmanager
    def _errors(self, action: str, *, not_found: str | None = None) -> Iterator[None]:
        """Convert SDK and transport errors of one call into LabelStudioError subclasses."""
        from label_studio_sdk.core.api_error import ApiError
        from label_studio_sdk.core.parse_error import ParsingError

        where = f"Label Studio at {self.url}"
        try:
            yield
        except CorpusToolsError:
            raise
        except ApiError as exc:
            status = exc.status_code
            detail = _detail(exc.body, (self._key,))
            if status in (401, 403):
                raise AuthenticationFailed(
                    f"{where} refused the API key (HTTP {status}) while trying to {action}; check {KEY_ENV}"
                    " (a personal access token or a legacy token)"
                ) from None
            if status == 404 and not_found:
                raise ProjectNotFound(not_found) from None
            if status is None or status < 300:
                raise LabelStudioError(f"{where} did not answer like Label Studio ({detail}) while trying to"
                                       f" {action}; check {URL_ENV}") from None
            raise LabelStudioError(f"{where} answered HTTP {status} while trying to {action}: {detail}") from None
        except ParsingError:
            raise LabelStudioError(f"{where} sent an answer the SDK could not read while trying to {action}") from None
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise ConnectionFailed(f"no Label Studio answered at {self.url} ({type(exc).__name__}); is it running?"
                                   f" check {URL_ENV}") from None
        except httpx.TimeoutException as exc:
            raise LabelStudioError(f"{where} timed out while trying to {action} ({type(exc).__name__})") from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise ConnectionFailed(
                f"talking to {where} failed while trying to {action}: {type(exc).__name__}:"
                f" {redact(str(exc), (self._key,))}"
            ) from None
        except (ValueError, json.JSONDecodeError) as exc:
            raise LabelStudioError(
                f"{where} sent an unreadable answer while trying to {action} ({type(exc).__name__})"
            ) from None

    def _get_json(self, path: str, params: Mapping[str, object], action: str) -> Any:
        """A raw GET through the SDK's authenticated HTTP client (for query params the typed API hides)."""
        with self._errors(action):
            response = self._sdk._client_wrapper.httpx_client.request(path, method="GET", params=dict(params))
            if response.status_code >= 400:
                from label_studio_sdk.core.api_error import ApiError

                try:
                    body: object = response.json()
                except ValueError:
                    body = response.text
                raise ApiError(status_code=response.status_code, body=body)
            return response.json()

    # -------------------------------------------------------------- users

    def whoami(self) -> dict[str, object]:
        """The account the key belongs to (``id``, ``email``); proves URL and key work."""
        with self._errors("check the API key"):
            user = self._sdk.users.whoami()
        if not isinstance(user.id, int) or not isinstance(user.email, str):  # a server answering anything with 200
            raise LabelStudioError(f"Label Studio at {self.url} did not answer like Label Studio (no user in its"
                                   f" answer) while trying to check the API key; check {URL_ENV}")
        return {"id": user.id, "email": user.email}

    def list_users(self) -> list[dict[str, object]]:
        """The users of the key's organisation as ``{id, email}``, by id."""
        with self._errors("list users"):
            users = self._sdk.users.list()
        return sorted(({"id": int(u.id), "email": str(u.email or "")} for u in users), key=lambda u: u["id"])

    def invite_token(self) -> str:
        """The organisation's invitation token (of its signup link ``/user/signup/?token=...``); a secret."""
        token = self._get_json("api/invite", {}, "read the organisation's invitation link").get("token")
        if not token:
            raise LabelStudioError(f"Label Studio at {self.url} gave no invitation token")
        return str(token)

    def annotated_tasks_by_user(self, project_id: int, page_size: int = LIST_PAGE_SIZE) -> dict[int, int]:
        """How many tasks of the project each user id has annotated (cancelled ones included)."""
        counts: dict[int, int] = {}
        page, seen = 1, 0
        while True:
            body = self._get_json("api/tasks/", {"project": project_id, "page": page, "page_size": page_size,
                                                 "fields": "all", "include": "id,annotators"},
                                  f"list the annotators of project {project_id}")
            tasks = body.get("tasks") or []
            for task in tasks:
                for user_id in set(task.get("annotators") or []):
                    counts[int(user_id)] = counts.get(int(user_id), 0) + 1
            seen += len(tasks)
            if not tasks or seen >= int(body.get("total", 0)):
                return counts
            page += 1

    # -------------------------------------------------------------- projects

    def _project_info(self, project: Any) -> ProjectInfo:
        return ProjectInfo(
            id=int(project.id),
            title=str(project.title or ""),
            label_config=str(project.label_config or ""),
            expert_instruction=str(getattr(project, "expert_instruction", "") or ""),
            task_number=int(getattr(project, "task_number", 0) or 0),
            created_at=str(getattr(project, "created_at", "") or ""),
            maximum_annotations=int(getattr(project, "maximum_annotations", None) or 1),
            overlap_cohort_percentage=int(_or(getattr(project, "overlap_cohort_percentage", None), 100)),
        )

    def get_project(self, project_id: int) -> ProjectInfo:
        with self._errors(f"read project {project_id}", not_found=f"no project with id {project_id} at {self.url}"):
            return self._project_info(self._sdk.projects.get(id=project_id))

    def find_projects(self, title: str) -> list[ProjectInfo]:
        """Every project whose title is exactly ``title`` without the spaces around it (Label Studio strips them
        when it stores a title)."""
        title = title.strip()
        with self._errors("list projects"):
            found = [p for p in self._sdk.projects.list(title=title, page_size=100) if p.title == title]
        return [self.get_project(int(p.id)) for p in found]

    def find_project(self, ref: str | int) -> ProjectInfo:
        """A project by id (digits) or exact title; :class:`ProjectNotFound` when none or ambiguous."""
        if (project_id := project_id_of(ref)) is not None:
            return self.get_project(project_id)
        found = self.find_projects(str(ref))
        if not found:
            raise ProjectNotFound(f"no project titled {ref!r} at {self.url}; create it with `corpus-tools ls setup`")
        if len(found) > 1:
            ids = ", ".join(str(p.id) for p in found)
            raise ProjectNotFound(f"{len(found)} projects are titled {ref!r} (ids {ids}); pass the id instead")
        return found[0]

    def create_project(self, title: str, label_config: str, *, expert_instruction: str = "") -> ProjectInfo:
        with self._errors(f"create project {title!r}"):
            project = self._sdk.projects.create(
                title=title, label_config=label_config, expert_instruction=expert_instruction,
                show_instruction=bool(expert_instruction), request_options=NO_RETRY,
            )
        return self.get_project(int(project.id))

    def update_project(self, project_id: int, *, label_config: str | None = None,
                       expert_instruction: str | None = None, maximum_annotations: int | None = None,
                       overlap_cohort_percentage: int | None = None) -> ProjectInfo:
        fields: dict[str, object] = {}
        if maximum_annotations is not None:
            fields["maximum_annotations"] = maximum_annotations
        if overlap_cohort_percentage is not None:
            fields["overlap_cohort_percentage"] = overlap_cohort_percentage
        if label_config is not None:
            fields["label_config"] = label_config
        if expert_instruction is not None:
            fields["expert_instruction"] = expert_instruction
            fields["show_instruction"] = bool(expert_instruction)
        with self._errors(f"update project {project_id}"):
            self._sdk.projects.update(id=project_id, **fields, request_options=NO_RETRY)
        return self.get_project(project_id)

    # -------------------------------------------------------------- tasks

    def count_tasks(self, project_id: int, id_ranges: Sequence[tuple[int, int]] = ()) -> int:
        """How many tasks the project has (only those whose id lies in ``id_ranges``, inclusive, if given)."""
        params: dict[str, object] = {"project": project_id, "page_size": 1, "include": "id"}
        if id_ranges:
            params["query"] = json.dumps({"filters": {"conjunction": "or", "items": [
                {"filter": "filter:tasks:id", "operator": "in", "type": "Number", "value": {"min": lo, "max": hi}}
                for lo, hi in id_ranges]}})
        return int(self._get_json("api/tasks/", params, f"count the tasks of project {project_id}")["total"])

    def iter_task_data(self, project_id: int, page_size: int = LIST_PAGE_SIZE) -> Iterator[tuple[int, dict]]:
        """``(task id, task data)`` of every task, page by page (tasks only, no annotations)."""
        page, seen = 1, 0
        while True:
            body = self._get_json(
                "api/tasks/",
                {"project": project_id, "page": page, "page_size": page_size, "include": "id,data",
                 "query": json.dumps({"ordering": ["tasks:id"]})},
                f"list the tasks of project {project_id}",
            )
            tasks = body.get("tasks") or []
            for task in tasks:
                yield int(task["id"]), task.get("data") or {}
            seen += len(tasks)
            if not tasks or seen >= int(body.get("total", 0)):
                return
            page += 1

    def iter_task_predictions(self, project_id: int, id_ranges: Sequence[tuple[int, int]],
                              page_size: int = 200) -> Iterator[tuple[int, dict, list[str]]]:
        """``(task id, task data, model versions of its predictions)`` of the tasks whose id lies in ``id_ranges``
        (inclusive), page by page (predictions are whole objects: the pages are smaller than for data alone)."""
        filters = {"conjunction": "or", "items": [
            {"filter": "filter:tasks:id", "operator": "in", "type": "Number", "value": {"min": lo, "max": hi}}
            for lo, hi in id_ranges]}
        page, seen = 1, 0
        while id_ranges:
            body = self._get_json(
                "api/tasks/",
                {"project": project_id, "page": page, "page_size": page_size, "fields": "all",
                 "include": "id,data,predictions",
                 "query": json.dumps({"ordering": ["tasks:id"], "filters": filters})},
                f"list the predictions of project {project_id}",
            )
            tasks = body.get("tasks") or []
            for task in tasks:
                versions = [str(p.get("model_version") or "") for p in task.get("predictions") or []
                            if isinstance(p, Mapping)]
                yield int(task["id"]), task.get("data") or {}, versions
            seen += len(tasks)
            if not tasks or seen >= int(body.get("total", 0)):
                return
            page += 1

    def import_tasks(self, project_id: int, tasks: Sequence[Mapping[str, object]], *,
                     timeout: float = 600) -> list[int]:
        """Import tasks (with inline predictions/annotations) in ONE request; returns their ids in order.

        Label Studio saves one request's tasks, predictions and annotations in one database
        transaction: the batch lands whole or not at all.  Never retried.
        """
        with self._errors(f"import {len(tasks)} tasks into project {project_id}"):
            response = self._sdk.projects.import_tasks(
                id=project_id, request=list(tasks), return_task_ids=True,
                request_options={"max_retries": 0, "timeout": timeout},
            )
        ids = list(response.task_ids or [])
        if len(ids) != len(tasks):
            raise LabelStudioError(f"Label Studio returned {len(ids)} task ids for {len(tasks)} imported tasks")
        return [int(i) for i in ids]

    def get_task_text(self, task_id: int, key: str = "text") -> str:
        with self._errors(f"read task {task_id}", not_found=f"no task with id {task_id} at {self.url}"):
            task = self._sdk.tasks.get(id=str(task_id))
        return str((task.data or {}).get(key, ""))

    def create_annotation(self, task_id: int, result: Sequence[Mapping[str, object]], *,
                          lead_time: float | None = None, was_cancelled: bool = False,
                          ground_truth: bool = False) -> int:
        """Create one annotation by the key's user; returns its id."""
        extra: dict[str, object] = {} if lead_time is None else {"lead_time": lead_time}
        with self._errors(f"annotate task {task_id}", not_found=f"no task with id {task_id} at {self.url}"):
            annotation = self._sdk.annotations.create(
                id=task_id, result=[dict(r) for r in result], was_cancelled=was_cancelled,
                ground_truth=ground_truth, request_options=NO_RETRY, **extra,
            )
        return int(annotation.id)

    def task_annotations(self, task_id: int) -> list[dict[str, object]]:
        """The task's annotations as ``{id, completed_by, was_cancelled, ground_truth}`` (oldest first)."""
        with self._errors(f"list the annotations of task {task_id}",
                          not_found=f"no task with id {task_id} at {self.url}"):
            annotations = self._sdk.annotations.list(id=task_id, ordering="id")
        return [{"id": int(a.id), "completed_by": a.completed_by, "was_cancelled": bool(a.was_cancelled),
                 "ground_truth": bool(a.ground_truth)} for a in annotations]

    def update_annotation(self, annotation_id: int, result: Sequence[Mapping[str, object]]) -> None:
        """Replace an annotation's result, as an annotator saving a corrected annotation."""
        with self._errors(f"update annotation {annotation_id}",
                          not_found=f"no annotation with id {annotation_id} at {self.url}"):
            self._sdk.annotations.update(id=annotation_id, result=[dict(r) for r in result],
                                         request_options=NO_RETRY)

    def get_task_data(self, task_id: int) -> dict[str, object]:
        """The task's ``data``."""
        with self._errors(f"read task {task_id}", not_found=f"no task with id {task_id} at {self.url}"):
            task = self._sdk.tasks.get(id=str(task_id))
        return dict(task.data or {})

    def update_task_data(self, task_id: int, data: Mapping[str, object]) -> None:
        """Replace the task's ``data`` in place (the task keeps its id, annotations and predictions)."""
        with self._errors(f"update task {task_id}", not_found=f"no task with id {task_id} at {self.url}"):
            self._sdk.tasks.update(id=str(task_id), data=dict(data), request_options=NO_RETRY)

    def task_results(self, task_id: int) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
        """The task's annotations and predictions, each as ``{id, result}`` (oldest first)."""
        with self._errors(f"list the annotations and predictions of task {task_id}",
                          not_found=f"no task with id {task_id} at {self.url}"):
            annotations = self._sdk.annotations.list(id=task_id, ordering="id")
            predictions = self._sdk.predictions.list(task=task_id)
        return ([{"id": int(a.id), "result": list(a.result or [])} for a in annotations],
                sorted(({"id": int(p.id), "result": list(p.result or [])} for p in predictions),
                       key=lambda p: p["id"]))

    def update_prediction(self, prediction_id: int, result: Sequence[Mapping[str, object]]) -> None:
        """Replace a prediction's result."""
        with self._errors(f"update prediction {prediction_id}",
                          not_found=f"no prediction with id {prediction_id} at {self.url}"):
            self._sdk.predictions.update(id=prediction_id, result=[dict(r) for r in result], request_options=NO_RETRY)

    def create_prediction(self, task_id: int, result: Sequence[Mapping[str, object]], *,
                          model_version: str, score: float | None = None) -> int:
        extra: dict[str, object] = {} if score is None else {"score": score}
        with self._errors(f"add a prediction to task {task_id}"):
            prediction = self._sdk.predictions.create(
                task=task_id, result=[dict(r) for r in result], model_version=model_version,
                request_options=NO_RETRY, **extra,
            )
        return int(prediction.id)

    # -------------------------------------------------------------- export

    def export_snapshot(self, project_id: int, out: Path, *, timeout: float = 3600, poll: float = 0.5,
                        chunk_size: int = 1 << 16, keep_snapshot: bool = False,
                        check: Callable[[Path], object] | None = None) -> ExportResult:
        """Full JSON export (all tasks, all annotators, full predictions) streamed to ``out``.

        Creates a snapshot with ``predictions.only_id=False`` and ``completed_by`` expanded,
        waits for it, streams its bytes to a temporary file next to ``out`` and renames it.  The
        snapshot is deleted from the server afterwards unless ``keep_snapshot``.  ``check`` is called
        with the complete temporary file before the rename; when it raises, ``out`` is left as it was.
        """
        started = time.monotonic()
        try:  # before the server builds anything: a place that cannot be written is known at once
            out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # mkdir says "File exists" of a file on the way
            raise OutputError(f"cannot write {out}: {write_failure(out, exc)}") from exc
        self._delete_abandoned_snapshots(project_id)
        exports = self._sdk.projects.exports
        # A title no other export has: an export interrupted before the server says its id is found by it.
        title = f"corpus-tools {time.strftime('%Y-%m-%dT%H:%M:%S')} {secrets.token_hex(6)}"
        export_id: int | None = None
        written = 0
        try:
            with self._errors(f"export project {project_id}",
                              not_found=f"no project with id {project_id} at {self.url}"):
                # Community edition builds the snapshot inside this request: allow it the whole timeout.
                snapshot = exports.create(
                    id=project_id,
                    title=title,
                    serialization_options={
                        "predictions": {"only_id": False},
                        "annotations__completed_by": {"only_id": False},
                    },
                    request_options={"timeout": timeout, "max_retries": 0},
                )
                export_id = int(snapshot.id)
                status = snapshot.status
                while status not in ("completed", "failed"):
                    if time.monotonic() - started > timeout:
                        raise LabelStudioError(
                            f"export {export_id} of project {project_id} not ready after {timeout:.0f} s")
                    time.sleep(poll)
                    status = exports.get(id=project_id, export_pk=export_id).status
                if status == "failed":
                    raise LabelStudioError(f"Label Studio failed to build export {export_id} of project {project_id}")
            writer = AtomicFile(out, binary=True, fsync=True, suffix=".part")
            with (writer as fh,
                  self._errors(f"download export {export_id}")):
                for chunk in exports.download(id=project_id, export_pk=export_id, export_type="JSON",
                                              request_options={"chunk_size": chunk_size, "timeout": timeout}):
                    fh.write(chunk)
                    written += len(chunk)
                if check is not None:
                    fh.flush()
                    check(writer.temporary)
        except BaseException as exc:
            refused = isinstance(exc, ProjectNotFound | AuthenticationFailed | ConnectionFailed)  # nothing was built
            if not keep_snapshot and not (export_id is None and refused):
                self._delete_snapshots(project_id, export_id, title)  # none is left behind when stopped or failed
            if isinstance(exc, OSError):  # the disk is full, the place is not writable...
                raise OutputError(f"cannot write {out}: {exc.strerror or exc}") from exc
            raise
        if not keep_snapshot:
            with self._errors(f"delete export {export_id}"):
                exports.delete(id=project_id, export_pk=export_id)
        return ExportResult(out, export_id, written, time.monotonic() - started)

    def _abandoned_snapshots(self, project_id: int) -> Path:
        """The file listing the titles of this project's snapshots whose export was stopped while the server built
        them (JSON list)."""
        key = hashlib.sha256(f"{self.url.rstrip('/')}|{project_id}".encode()).hexdigest()[:24]
        return cache_root() / "abandoned-snapshots" / f"{key}.json"

    def _delete_snapshots(self, project_id: int, export_id: int | None, title: str) -> None:
        """Delete the snapshot of an export that failed or was stopped, best effort.  When the server had not said
        its id yet (the request that builds it was cut), it is still building it and would save it again if deleted
        now: its title is written down, and the next export of the project deletes it."""
        if export_id is None:
            path = self._abandoned_snapshots(project_id)
            with contextlib.suppress(OSError, ValueError):
                titles = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
                path.parent.mkdir(parents=True, exist_ok=True)
                write_file_atomically(path, json.dumps([*titles, title]))
            return
        with contextlib.suppress(CorpusToolsError), self._errors(f"delete export {export_id}"):
            self._sdk.projects.exports.delete(id=project_id, export_pk=export_id, request_options=NO_RETRY)

    def _delete_abandoned_snapshots(self, project_id: int) -> None:
        """Delete the snapshots written down by :meth:`_delete_snapshots` that the server has finished building
        (best effort; those still being built stay written down)."""
        path = self._abandoned_snapshots(project_id)
        try:
            titles = set(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return
        exports = self._sdk.projects.exports
        with contextlib.suppress(CorpusToolsError, OSError), self._errors(f"delete old snapshots of {project_id}"):
            pending = []
            for export in exports.list(id=project_id, request_options=NO_RETRY):
                if export.title not in titles:
                    continue
                if export.status in ("completed", "failed"):
                    exports.delete(id=project_id, export_pk=int(export.id), request_options=NO_RETRY)
                else:
                    pending.append(export.title)
            if pending:
                write_file_atomically(path, json.dumps(pending))
            else:
                path.unlink(missing_ok=True)
