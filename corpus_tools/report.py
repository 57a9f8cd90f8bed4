"""Problems found in data, as records.

Every problem has a stable kebab-case ``code`` registered once with :func:`define_code`
(codes are never renamed, only deprecated), a one-sentence message that says how to fix
it, a severity and a location (file, line, byte offset, task id, annotation id and the
JSON path of the offending value).  A :class:`Report` collects them with statistics; the
CLI prints ``report.to_dict()`` for ``--json``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from corpus_tools.text import printable

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class ProblemCode:
    """A registered problem code: its default severity and what it means."""

    code: str
    severity: Severity
    summary: str
    stage: str


_CODES: dict[str, ProblemCode] = {}

# Every module that defines problem codes; all_codes() imports them so the registry is complete.
CODE_MODULES = (
    "corpus_tools.ontology",
    "corpus_tools.spans",
    "corpus_tools.ingest.driver",
    "corpus_tools.labelstudio.tasks",
    "corpus_tools.labelstudio.checks",
    "corpus_tools.validate.driver",
    "corpus_tools.build.driver",
    "corpus_tools.release.manifest",
    "corpus_tools.publish",
    "corpus_tools.interop.registry",
    "corpus_tools.interop.convert",
)


def define_code(code: str, severity: Severity, summary: str, *, stage: str) -> str:
    """Register a problem code once and return it, for use as a module constant."""
    existing = _CODES.get(code)
    if existing is not None and existing != ProblemCode(code, severity, summary, stage):
        raise ValueError(f"problem code {code!r} defined twice with different meanings")
    _CODES[code] = ProblemCode(code, severity, summary, stage)
    return code


def all_codes() -> dict[str, ProblemCode]:
    """Every registered code, after importing every module that defines codes."""
    import importlib

    for name in CODE_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a stage not built yet defines no codes
            if exc.name != name:
                raise
    return dict(sorted(_CODES.items()))


@dataclass(frozen=True)
class Problem:
    """One problem found in data, with its location."""

    code: str
    message: str
    severity: Severity = "error"
    file: str | None = None
    line: int | None = None
    byte_offset: int | None = None
    task_id: int | str | None = None
    annotation_id: int | str | None = None
    json_path: str | None = None
    details: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in _CODES:
            raise ValueError(f"unregistered problem code {self.code!r}")
        if self.file is not None and not self.file.isascii():  # a file name that is not UTF-8: shown as \xNN
            object.__setattr__(self, "file", printable(self.file))

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def location(self) -> str:
        """A short human location such as ``a.json, task 3, annotation 7, $.annotations[0]``."""
        parts: list[str] = []
        if self.file:
            parts.append(self.file + (f":{self.line}" if self.line is not None else ""))
        if self.byte_offset is not None:
            parts.append(f"byte {self.byte_offset}")
        if self.task_id is not None:
            parts.append(f"task {self.task_id}")
        if self.annotation_id is not None:
            parts.append(f"annotation {self.annotation_id}")
        if self.json_path:
            parts.append(self.json_path)
        return ", ".join(parts)

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"code": self.code, "severity": self.severity, "message": self.message}
        for key in ("file", "line", "byte_offset", "task_id", "annotation_id", "json_path"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.details:
            out["details"] = self.details
        return out


def make_problem(code: str, message: str, **location: object) -> Problem:
    """A problem whose severity is its code's registered default."""
    return Problem(code=code, message=message, severity=_CODES[code].severity, **location)  # type: ignore[arg-type]


@dataclass
class Report:
    """Problems and statistics from one run over some data."""

    problems: list[Problem] = field(default_factory=list)
    stats: dict[str, object] = field(default_factory=dict)
    max_errors: int | None = None
    truncated: bool = False

    def add(self, problem: Problem) -> None:
        if problem.is_error and self.max_errors is not None and self.error_count >= self.max_errors:
            self.truncated = True
            self._suppressed += 1
            self._suppressed_codes[problem.code] += 1
            return
        self.problems.append(problem)

    def extend(self, problems: Iterable[Problem]) -> None:
        for problem in problems:
            self.add(problem)

    def __post_init__(self) -> None:
        self._suppressed = 0  # errors past max_errors: counted (in ``errors`` and ``counts``), not kept
        self._suppressed_codes: Counter[str] = Counter()

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_error]

    @property
    def error_count(self) -> int:
        return sum(1 for p in self.problems if p.is_error)

    @property
    def valid(self) -> bool:
        return self.error_count == 0 and self._suppressed == 0

    def counts(self) -> dict[str, int]:
        """Problems per code, most frequent first; like ``errors`` in :meth:`to_dict`, it counts the errors
        found past ``max_errors`` too (they are not kept)."""
        return dict((Counter(p.code for p in self.problems) + self._suppressed_codes).most_common())

    def __iter__(self) -> Iterator[Problem]:
        return iter(self.problems)

    def to_dict(self) -> dict[str, object]:
        return {
            "valid": self.valid,
            "errors": self.error_count + self._suppressed,
            "warnings": len(self.warnings),
            "truncated": self.truncated,
            "counts": self.counts(),
            "stats": self.stats,
            "problems": [p.to_dict() for p in self.problems],
        }
