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
    once_per: str | None = None  # a warning reported once per file and value of this details key


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


def define_code(code: str, severity: Severity, summary: str, *, stage: str, once_per: str | None = None) -> str:
    """Register a problem code once and return it, for use as a module constant.

    ``once_per`` (warnings only): a :class:`Report` keeps the first problem of this code for each file and
    value of that ``details`` key, and counts the others (a field every task of an export has is one line, not
    one per task)."""
    if once_per is not None and severity != "warning":
        raise ValueError(f"problem code {code!r}: only a warning can be reported once per {once_per}")
    info = ProblemCode(code, severity, summary, stage, once_per)
    existing = _CODES.get(code)
    if existing is not None and existing != info:
        raise ValueError(f"problem code {code!r} defined twice with different meanings")
    _CODES[code] = info
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


# Warnings of one code a Report keeps by default; the others are counted, not kept, so that a report's memory
# stays flat on an export where every task has a warning (issue 21).
WARNINGS_PER_CODE = 1000


@dataclass
class Report:
    """Problems and statistics from one run over some data.

    Add problems with :meth:`add`, :meth:`extend` or :meth:`merge` (they keep the counts).  Errors past
    ``max_errors``, the repeats of a code registered ``once_per`` a details key, and the warnings of a code past
    ``warnings_per_code`` (0: keep every warning) are counted (in :meth:`counts` and :meth:`to_dict`) but not kept;
    :meth:`unlisted_warnings` says how many of each code were found past ``warnings_per_code``."""

    problems: list[Problem] = field(default_factory=list)
    stats: dict[str, object] = field(default_factory=dict)
    max_errors: int | None = None
    truncated: bool = False
    warnings_per_code: int = WARNINGS_PER_CODE

    def add(self, problem: Problem) -> None:
        if problem.is_error:
            if self.max_errors is not None and self._errors >= self.max_errors:
                self.truncated = True
                self._suppressed += 1
                self._suppressed_codes[problem.code] += 1
                return
            self._errors += 1
        else:
            once_per = _CODES[problem.code].once_per
            if once_per is not None:
                key = (problem.code, problem.file, repr(problem.details.get(once_per)))
                if key in self._once:
                    self._repeated[problem.code] += 1
                    return
                self._once.add(key)
            if self.warnings_per_code and self._listed[problem.code] >= self.warnings_per_code:
                self._unlisted[problem.code] += 1
                return
            self._listed[problem.code] += 1
        self.problems.append(problem)

    def extend(self, problems: Iterable[Problem]) -> None:
        for problem in problems:
            self.add(problem)

    def take_problems(self) -> list[Problem]:
        """The problems kept so far, removed from this report to be reported elsewhere (a caller that judges each
        item's problems as they come); what it counted without keeping stays counted here, for :meth:`merge`."""
        taken, self.problems = self.problems, []
        self._errors = 0
        self._listed.clear()
        return taken

    def merge(self, other: Report) -> None:
        """Add the problems of ``other`` (each as :meth:`add` does) and count here what it counted without
        keeping (errors past its ``max_errors``, repeats, warnings past its ``warnings_per_code``); ``truncated``
        when either was."""
        self.extend(other.problems)
        self._suppressed += other._suppressed
        self._suppressed_codes.update(other._suppressed_codes)
        self._repeated.update(other._repeated)
        self._unlisted.update(other._unlisted)
        self.truncated = self.truncated or other.truncated

    def __post_init__(self) -> None:
        if self.warnings_per_code < 0:
            raise ValueError(f"warnings_per_code must be 0 (keep every warning) or more, not {self.warnings_per_code}")
        self._suppressed = 0  # errors past max_errors: counted (in ``errors`` and ``counts``), not kept
        self._suppressed_codes: Counter[str] = Counter()
        self._errors = 0  # kept
        self._once: set[tuple[str, str | None, str]] = set()  # (code, file, details value) of once_per codes
        self._repeated: Counter[str] = Counter()  # their later problems: counted, not kept
        self._listed: Counter[str] = Counter()  # warnings kept, by code
        self._unlisted: Counter[str] = Counter()  # warnings past warnings_per_code: counted, not kept
        given, self.problems = self.problems, []
        self.extend(given)  # the problems given are kept and counted as if added one by one

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_error]

    @property
    def error_count(self) -> int:
        """The errors kept."""
        return self._errors

    @property
    def errors_found(self) -> int:
        """Every error found: those kept and those past ``max_errors``."""
        return self._errors + self._suppressed

    @property
    def warnings_found(self) -> int:
        """Every warning found: those kept, the repeats of a ``once_per`` code and those past
        ``warnings_per_code``."""
        return len(self.problems) - self._errors + sum(self._repeated.values()) + sum(self._unlisted.values())

    def unlisted_warnings(self) -> dict[str, int]:
        """The warnings of each code found past ``warnings_per_code`` (counted, not kept), by code."""
        return dict(sorted(self._unlisted.items()))

    @property
    def valid(self) -> bool:
        return self.error_count == 0 and self._suppressed == 0

    def counts(self) -> dict[str, int]:
        """Problems per code, most frequent first; like ``errors`` and ``warnings`` in :meth:`to_dict`, it counts
        the errors found past ``max_errors``, the repeats of a ``once_per`` code and the warnings past
        ``warnings_per_code`` too (they are not kept)."""
        found = Counter(p.code for p in self.problems) + self._suppressed_codes + self._repeated + self._unlisted
        return dict(found.most_common())

    def __iter__(self) -> Iterator[Problem]:
        return iter(self.problems)

    def to_dict(self) -> dict[str, object]:
        return {
            "valid": self.valid,
            "errors": self.errors_found,
            "warnings": self.warnings_found,
            "truncated": self.truncated,
            "counts": self.counts(),
            "unlisted_warnings": self.unlisted_warnings(),
            "stats": self.stats,
            "problems": [p.to_dict() for p in self.problems],
        }
