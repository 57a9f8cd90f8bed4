"""A local Label Studio server run from its own virtualenv.

Label Studio pins pyarrow<25 and an exact SDK version, so it never shares the toolkit's
environment: :func:`install_server` creates a cached virtualenv (default
``~/.cache/corpus-tools/ls-venv-<version>``; ``LS_BIN`` may point at another binary) and the
toolkit talks to the server over HTTP only.

* :func:`server_env` builds the server's environment: a fixed data dir, nothing phones home
  (version check, Sentry and analytics off), and the CI variables Label Studio would otherwise
  read (``HOST``, ``PORT``, ``USERNAME``, ``PASSWORD``, ``DEBUG``) removed;
* :func:`start_server` starts ``label-studio start`` on a port that must be free, waits for
  ``/health`` and reports the port it really listens on (Label Studio silently moves to
  port+1 when a port is busy); :meth:`RunningServer.stop` / :func:`stop_server` (pid file) stop it;
* :func:`prepare_data_dir` creates the admin user and a fixed legacy API key on first use and
  writes them to ``credentials.json`` (mode 0600) in the data dir;
* :func:`ensure_template` builds, once per cache, a migrated data dir made with
  ``label-studio init``, which test sessions copy to start in seconds.

Nothing here prints: slow steps report through an optional ``progress`` callback and
subprocess output goes to a log file (or the stream given).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

from corpus_tools.errors import ServerSetupError
from corpus_tools.files import cache_root, new_file_mode, write_file_atomically
from corpus_tools.text import redact

LS_VERSION = "1.23.2"
DEFAULT_PORT = 8080
DEFAULT_HOST = "127.0.0.1"
DEFAULT_EMAIL = "admin@example.com"
CREDENTIALS_FILE = "credentials.json"
PID_FILE = "label-studio.pid"
LOG_FILE = "label-studio.log"
DB_FILE = "label_studio.sqlite3"
# Plain names Label Studio falls back to (get_env tries LABEL_STUDIO_<X>, HEARTEX_<X>, then <X>).
LEAKING_ENV = ("HOST", "PORT", "USERNAME", "PASSWORD", "DEBUG", "USER_TOKEN", "ENABLE_LEGACY_API_TOKEN",
               "BASE_DATA_DIR", "DATABASE_NAME", "DJANGO_DB")
QUIET_ENV = {
    "LATEST_VERSION_CHECK": "false",
    "SENTRY_DSN": "",
    "FRONTEND_SENTRY_DSN": "",
    "COLLECT_ANALYTICS": "false",
    "LOG_LEVEL": "WARNING",
    "PYTHONUNBUFFERED": "1",
}
# Fixed credentials of the cached test template (a throw-away server on 127.0.0.1 only).
TEMPLATE_EMAIL = "admin@example.com"
TEMPLATE_PASSWORD = "corpus-tools-test-password"
TEMPLATE_TOKEN = "c0ffee0ddba11c0ffee0ddba11c0ffee0ddba11c"

Progress = Callable[[str], None]


def _noop(_: str) -> None:
    pass


@dataclass(frozen=True)
class Credentials:
    """How to reach one Label Studio and log in to it; ``api_key`` is a secret."""

    url: str
    email: str
    password: str = field(repr=False)
    api_key: str = field(repr=False)
    label_studio_version: str = LS_VERSION

    def with_url(self, url: str) -> Credentials:
        return Credentials(url, self.email, self.password, self.api_key, self.label_studio_version)


def new_credentials(url: str, email: str = DEFAULT_EMAIL) -> Credentials:
    """Fresh random credentials: a password and a 40-hex legacy API key."""
    return Credentials(url=url, email=email, password=secrets.token_urlsafe(18), api_key=secrets.token_hex(20))


def write_credentials(path: Path, credentials: Credentials) -> Path:
    """Write credentials as JSON, atomically, readable by the owner only (mode 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_file_atomically(path, json.dumps(asdict(credentials), indent=2) + "\n", permissions=0o600)
    return path


def read_credentials(path: Path) -> Credentials:
    """Credentials written by :func:`write_credentials`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Credentials(
            url=str(data["url"]),
            email=str(data["email"]),
            password=str(data["password"]),
            api_key=str(data["api_key"]),
            label_studio_version=str(data.get("label_studio_version", LS_VERSION)),
        )
    except FileNotFoundError as exc:
        raise ServerSetupError(f"no credentials file at {path}") from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ServerSetupError(f"cannot read credentials file {path}: {type(exc).__name__}") from None


# ---------------------------------------------------------------------------- install


def server_binary(venv_dir: Path | None = None) -> Path:
    """The ``label-studio`` binary: ``LS_BIN`` when set, else the cached venv's."""
    if venv_dir is not None:
        return venv_dir / "bin" / "label-studio"
    if os.environ.get("LS_BIN"):
        return Path(os.environ["LS_BIN"]).expanduser()
    return cache_root() / f"ls-venv-{LS_VERSION}" / "bin" / "label-studio"


def installed_version(binary: Path) -> str | None:
    """The label-studio version installed next to ``binary``, or None when it is not installed."""
    python = binary.parent / "python"
    if not binary.exists() or not python.exists():
        return None
    try:
        out = subprocess.run(
            [str(python), "-c", "import importlib.metadata as m; print(m.version('label-studio'))"],
            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock shared by concurrent installs or test sessions on this machine."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def install_server(
    binary: Path | None = None, *, output: IO[str] | None = None, progress: Progress = _noop
) -> Path:
    """Install ``label-studio==LS_VERSION`` into the venv of ``binary`` unless it is there already.

    pip runs in a subprocess; its output goes to ``output`` (default: discarded).  Returns the binary.
    """
    binary = binary or server_binary()
    venv = binary.parent.parent
    with _file_lock(venv.with_name(venv.name + ".lock")):
        version = installed_version(binary)
        if version == LS_VERSION:
            return binary
        if version is not None:
            raise ServerSetupError(
                f"{binary} runs label-studio {version}, not {LS_VERSION}; point LS_BIN elsewhere or remove {venv}"
            )
        progress(f"Installing label-studio=={LS_VERSION} into {venv} (about 2 minutes, 1 GB)...")
        sink = output if output is not None else subprocess.DEVNULL
        steps = [
            [sys.executable, "-m", "venv", "--clear", str(venv)],
            [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
             *(["-q"] if output is None else []), f"label-studio=={LS_VERSION}"],
        ]
        for cmd in steps:
            try:
                done = subprocess.run(cmd, stdout=sink, stderr=sink, stdin=subprocess.DEVNULL, check=False)
            except OSError as exc:
                raise ServerSetupError(f"cannot run {cmd[0]}: {exc.strerror or exc}") from exc
            if done.returncode != 0:
                raise ServerSetupError(
                    f"installing label-studio=={LS_VERSION} failed ({Path(cmd[0]).name} exited {done.returncode})"
                )
        if installed_version(binary) != LS_VERSION:
            raise ServerSetupError(f"label-studio=={LS_VERSION} did not install into {venv}")
        progress("Label Studio installed.")
    return binary


def require_binary(binary: Path | None = None) -> Path:
    """The server binary, or :class:`ServerSetupError` telling how to install it."""
    binary = binary or server_binary()
    if not binary.exists():
        raise ServerSetupError(f"Label Studio is not installed at {binary}; run `corpus-tools ls install`")
    return binary


# ---------------------------------------------------------------------------- environment


def server_env(
    data_dir: Path, *, first_run: Credentials | None = None, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The server's environment: fixed data dir, quiet, leaking CI variables removed.

    ``first_run`` credentials create the admin user, its legacy API key and an organisation
    with legacy tokens enabled; they only take effect when the database is created.
    """
    source = os.environ if base is None else base
    env = {
        k: v
        for k, v in source.items()
        if k not in LEAKING_ENV and not k.startswith(("LABEL_STUDIO_", "HEARTEX_"))
    }
    env.update(QUIET_ENV)
    env["LABEL_STUDIO_BASE_DATA_DIR"] = str(data_dir.resolve())
    if first_run is not None:
        env["LABEL_STUDIO_USERNAME"] = first_run.email
        env["LABEL_STUDIO_PASSWORD"] = first_run.password
        env["LABEL_STUDIO_USER_TOKEN"] = first_run.api_key
        env["LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN"] = "true"
    return env


def _first_run_args(credentials: Credentials) -> list[str]:  # noqa: ARG001
    """Command-line arguments of a first run: no secret, since argv is visible to every local user (``ps``).

    The e-mail, password and token reach Label Studio through the environment (:func:`server_env`),
    which it reads when the flags are absent; only the organisation's legacy-token switch has no
    environment variable.
    """
    return ["--enable-legacy-api-token"]


def is_initialised(data_dir: Path) -> bool:
    return (data_dir / DB_FILE).exists()


def _log_tail(path: Path, secrets_: tuple[str, ...] = (), size: int = 3000) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - size))
            return redact(fh.read().decode("utf-8", "replace"), secrets_).strip()
    except OSError:
        return ""


def init_data_dir(
    data_dir: Path, credentials: Credentials, *, binary: Path | None = None, timeout: float = 300
) -> None:
    """Migrate a new data dir and create the admin user and organisation (``label-studio init``)."""
    binary = require_binary(binary)
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / LOG_FILE
    cmd = [str(binary), "init", "--quiet", "--no-browser", "--data-dir", str(data_dir), *_first_run_args(credentials)]
    with open(log, "ab") as fh:
        try:
            done = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT,
                                  env=server_env(data_dir, first_run=credentials), timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise ServerSetupError(f"label-studio init did not finish in {timeout:.0f} s (log: {log})") from exc
        except OSError as exc:
            raise ServerSetupError(f"cannot run {binary}: {exc.strerror or exc}") from exc
    if done.returncode != 0 or not is_initialised(data_dir):
        tail = _log_tail(log, (credentials.password, credentials.api_key))
        raise ServerSetupError(f"label-studio init failed (exit {done.returncode}); log {log}:\n{tail}")


def template_dir() -> Path:
    return cache_root() / f"ls-template-{LS_VERSION}"


def template_credentials(url: str = "") -> Credentials:
    return Credentials(url=url, email=TEMPLATE_EMAIL, password=TEMPLATE_PASSWORD, api_key=TEMPLATE_TOKEN)


def ensure_template(*, binary: Path | None = None, progress: Progress = _noop) -> Path:
    """The cached, migrated template data dir with the fixed test credentials (built once)."""
    target = template_dir()
    with _file_lock(target.with_name(target.name + ".lock")):
        if is_initialised(target) and (target / ".env").exists():
            return target
        progress(f"Building the Label Studio template data dir {target} (about 40 s, once)...")
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            init_data_dir(tmp, template_credentials(), binary=binary)
            for leftover in (tmp / LOG_FILE,):
                leftover.unlink(missing_ok=True)
            shutil.rmtree(target, ignore_errors=True)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def copy_template(data_dir: Path, *, binary: Path | None = None, progress: Progress = _noop) -> Credentials:
    """Copy the cached template into a new data dir; returns the template's credentials (url unset)."""
    template = ensure_template(binary=binary, progress=progress)
    if data_dir.exists() and any(data_dir.iterdir()):
        raise ServerSetupError(f"data dir {data_dir} is not empty")
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    if data_dir.exists():
        data_dir.rmdir()
    shutil.copytree(template, data_dir, symlinks=True)
    return template_credentials()


# ---------------------------------------------------------------------------- start / stop


def port_is_free(port: int, host: str = DEFAULT_HOST) -> bool:
    """True when nothing listens on ``host:port`` (nor on localhost, which Label Studio checks)."""
    for probe in {host if host not in ("0.0.0.0", "") else "127.0.0.1", "127.0.0.1"}:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((probe, port)) == 0:
                return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: ignore TIME_WAIT
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = DEFAULT_HOST) -> int:
    """A port the OS reports free right now (another process may still take it: verify after start)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def health(url: str, timeout: float = 2.0) -> bool:
    """True when ``GET {url}/health`` answers ``{"status": "UP"}``."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/health", timeout=timeout) as response:  # noqa: S310
            return json.loads(response.read().decode("utf-8", "replace")).get("status") == "UP"
    except (OSError, ValueError, urllib.error.URLError):
        return False


_MOVED = re.compile(rb"Trying to start at (\d+)")
_STARTED = re.compile(rb"Starting development server at https?://[^:/\s]+:(\d+)")


def _announced_port(log: Path, offset: int) -> int | None:
    """The port Label Studio says it listens on, from the log written since ``offset``."""
    try:
        with open(log, "rb") as fh:
            fh.seek(offset)
            text = fh.read()
    except OSError:
        return None
    for pattern in (_STARTED, _MOVED):
        found = pattern.findall(text)
        if found:
            return int(found[-1])
    return None


@dataclass
class RunningServer:
    """A Label Studio process started by :func:`start_server`."""

    process: subprocess.Popen
    url: str
    port: int
    requested_port: int
    data_dir: Path
    log_path: Path

    @property
    def moved(self) -> bool:
        """True when Label Studio moved to another port because the requested one was taken."""
        return self.port != self.requested_port

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 15) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; removes the pid file; returns the exit code."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                self.process.wait(timeout)
        _remove_pid_file(self.data_dir, self.process.pid)
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL at once (tests use it to simulate a crash)."""
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        self.process.wait(15)


def _url(host: str, port: int) -> str:
    return f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"


def start_server(
    data_dir: Path,
    *,
    port: int = DEFAULT_PORT,
    host: str = DEFAULT_HOST,
    binary: Path | None = None,
    first_run: Credentials | None = None,
    timeout: float = 180,
    progress: Progress = _noop,
) -> RunningServer:
    """Start ``label-studio start`` on ``data_dir`` and wait until ``/health`` is UP.

    Refuses a busy port up front.  If Label Studio still moves to another port (a race), the
    returned server's ``port``/``url`` are the real ones and ``moved`` is True.  ``first_run``
    credentials are applied when the data dir has no database yet (the first start takes longest).
    """
    binary = require_binary(binary)
    data_dir.mkdir(parents=True, exist_ok=True)
    if not port_is_free(port, host):
        raise ServerSetupError(f"port {port} on {host} is in use; choose another with --port")
    log = data_dir / LOG_FILE
    offset = log.stat().st_size if log.exists() else 0
    new_db = not is_initialised(data_dir)
    cmd = [str(binary), "start", "--no-browser", "--internal-host", host, "--port", str(port),
           "--data-dir", str(data_dir)]
    if new_db and first_run is not None:
        cmd += _first_run_args(first_run)
        progress("First start: creating the database, admin user and API key (about 40 s)...")
    env = server_env(data_dir, first_run=first_run if new_db else None)
    with open(log, "ab") as fh:
        try:
            process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT, env=env,
                                       start_new_session=True)
        except OSError as exc:
            raise ServerSetupError(f"cannot run {binary}: {exc.strerror or exc}") from exc
    server = RunningServer(process, _url(host, port), port, port, data_dir, log)
    secrets_ = (first_run.password, first_run.api_key) if first_run else ()
    deadline = time.monotonic() + timeout
    try:
        while True:
            if process.poll() is not None:
                raise ServerSetupError(
                    f"Label Studio exited with code {process.returncode} while starting; log {log}:\n"
                    + _log_tail(log, secrets_)
                )
            announced = _announced_port(log, offset)
            if announced is not None and announced != server.port:
                server.port, server.url = announced, _url(host, announced)
            if health(server.url, timeout=1.0):
                break
            if time.monotonic() > deadline:
                raise ServerSetupError(
                    f"Label Studio was not healthy within {timeout:.0f} s; log {log}:\n" + _log_tail(log, secrets_)
                )
            time.sleep(0.3)
    except BaseException:
        server.stop(timeout=5)
        raise
    _write_pid_file(data_dir, process.pid, server.url)
    return server


def _write_pid_file(data_dir: Path, pid: int, url: str) -> None:
    write_file_atomically(data_dir / PID_FILE, json.dumps({"pid": pid, "url": url}) + "\n",
                          permissions=new_file_mode())


def _remove_pid_file(data_dir: Path, pid: int) -> None:
    path = data_dir / PID_FILE
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == pid:
            path.unlink()


def read_pid_file(data_dir: Path) -> tuple[int, str] | None:
    """The pid and URL of the server started on this data dir, if its pid file exists."""
    try:
        data = json.loads((data_dir / PID_FILE).read_text(encoding="utf-8"))
        return int(data["pid"]), str(data["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _is_label_studio(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():  # guard against a recycled pid
        try:
            return b"label-studio" in cmdline.read_bytes()
        except OSError:
            return False
    return True


def running_server(data_dir: Path) -> tuple[int, str] | None:
    """``(pid, url)`` of the Label Studio started on ``data_dir`` if it is still running."""
    found = read_pid_file(data_dir)
    return found if found is not None and _is_label_studio(found[0]) else None


def stop_server(data_dir: Path, timeout: float = 15) -> int | None:
    """Stop the server recorded in ``data_dir``'s pid file; returns its pid, or None if none was running."""
    found = read_pid_file(data_dir)
    if found is None:
        return None
    pid, _ = found
    if not _is_label_studio(pid):
        (data_dir / PID_FILE).unlink(missing_ok=True)
        return None
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _is_label_studio(pid):
            time.sleep(0.1)
        if not _is_label_studio(pid):
            (data_dir / PID_FILE).unlink(missing_ok=True)
            return pid
    raise ServerSetupError(f"Label Studio (pid {pid}) did not stop")


def prepare_data_dir(
    data_dir: Path, *, email: str = DEFAULT_EMAIL, url: str = ""
) -> tuple[Credentials, bool]:
    """The credentials of ``data_dir``: read from its credentials file, or new ones for a new dir.

    Returns ``(credentials, created)``; new credentials are written (mode 0600) before the first
    start, which applies them.  A data dir with a database but no credentials file is refused.
    """
    path = data_dir / CREDENTIALS_FILE
    if path.exists():
        return read_credentials(path), False
    if is_initialised(data_dir):
        raise ServerSetupError(
            f"{data_dir} holds a Label Studio database but no {CREDENTIALS_FILE}; set LABEL_STUDIO_API_KEY or"
            " use a new --data-dir"
        )
    credentials = new_credentials(url, email)
    try:
        write_credentials(path, credentials)
    except OSError as exc:  # a file among its parents, a read-only place
        raise ServerSetupError(f"cannot create the data dir {data_dir}: {exc.strerror or exc}") from exc
    return credentials, True
