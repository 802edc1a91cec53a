"""CLI errors as one line each, in text, `--json` and `--markdown` alike (issue #17).

A person reads these in a terminal or in a pull-request comment, so an error is never a
traceback: each problem is one line naming the file, the tenant, the field, what is allowed
and the tier (when they apply), and the command exits 1. `NEON_TENANTS_DEBUG=1` adds the
traceback on stderr for the bugs we did not foresee. Nothing here prints a secret: every
message passes `scrub` (passwords in URIs, bearer keys).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, NoReturn

import typer

from neon_tenants.automation._errors import scrub

EXIT_ERROR = 1
DEBUG_ENV = "NEON_TENANTS_DEBUG"
Mode = Literal["text", "json", "markdown"]


@dataclass(frozen=True)
class Problem:
    """One thing to fix. `field` is a dotted path inside the tenant (or the file)."""

    message: str
    file: str | None = None
    tenant: str | None = None
    field: str | None = None
    tier: str | None = None

    def line(self) -> str:
        where = [f"{self.file}" if self.file else "",
                 f"tenant {self.tenant}" if self.tenant else "",
                 f"field {self.field}" if self.field else ""]
        prefix = ": ".join(w for w in where if w)
        named = self.tier and f"tier {self.tier}" in self.message
        tier = f" [tier {self.tier}]" if self.tier and not named else ""
        return scrub(f"{prefix}: {self.message}{tier}" if prefix else f"{self.message}{tier}")


@dataclass
class ErrorReport:
    """What went wrong: a headline and the problems under it (often just one)."""

    summary: str
    kind: str
    problems: list[Problem] = field(default_factory=list)
    status: int | None = None

    def lines(self) -> list[str]:
        return [p.line() for p in self.problems] or [scrub(self.summary)]

    def to_json(self) -> dict[str, Any]:
        return {
            "error": scrub(self.summary),
            "kind": self.kind,
            "status": self.status,
            "problems": [{**asdict(p), "message": scrub(p.message)} for p in self.problems],
            "exit_code": EXIT_ERROR,
        }

    def to_markdown(self) -> str:
        head = f"### Fleet preview: error\n\n**{_md(scrub(self.summary))}**\n"
        if not self.problems:
            return head
        return head + "\n" + "\n".join(f"- {_md(line)}" for line in self.lines()) + "\n"

    def to_text(self) -> str:
        if not self.problems:
            return f"error: {scrub(self.summary)}"
        if len(self.problems) == 1:
            return f"error: {self.problems[0].line()}"
        return "\n".join([f"error: {scrub(self.summary)}", *(f"  {ln}" for ln in self.lines())])


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


class FleetFileInvalid(ValueError):
    """A fleet file breaks the schema or its tier's rules; checked before any engine call."""

    def __init__(self, file: str, tier: str | None, problems: list[Problem]) -> None:
        self.file = file
        self.tier = tier
        self.problems = problems
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"{file} is invalid ({count}); fix it and run again")


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc` and the errors it was raised from (FleetManager wraps the input's own error)."""
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__
    return seen


def _input_problems(exc: BaseException) -> list[Problem] | None:
    """Field-level problems from a fleet file, a tenant's rules or a pydantic model."""
    from pydantic import ValidationError

    for err in _chain(exc):
        if isinstance(err, FleetFileInvalid):
            return list(err.problems)
        failures = getattr(err, "failures", None)
        if isinstance(failures, list) and hasattr(err, "tenant"):  # tenant.TenantInvalid
            tenant, tier = getattr(err, "tenant", None), getattr(err, "tier", None)
            return [Problem(f.reason, tenant=tenant, field=f.property, tier=tier)
                    for f in failures]
        if isinstance(err, ValidationError):
            return [Problem(str(e["msg"]).removeprefix("Value error, "),
                            field=".".join(str(p) for p in e["loc"]) or None)
                    for e in err.errors()]
    return None


def describe(exc: BaseException) -> ErrorReport:
    """Any exception -> a report whose every line stands alone."""
    from neon_tenants.automation import FleetError

    problems = _input_problems(exc)
    status = getattr(exc, "http_status", None)
    if isinstance(exc, FleetFileInvalid):
        return ErrorReport(str(exc), "FleetFileInvalid", problems or [], 422)
    if problems is not None:
        summary = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if not isinstance(exc, FleetError) or summary.endswith("validation error for "
                                                                "TenantSpec"):
            summary = "invalid input: fix the fields below"
        return ErrorReport(summary, type(exc).__name__, problems, status or 422)
    if isinstance(exc, FleetError):
        found = [Problem(_violation(v)) for v in exc.details.get("violations") or []]
        first = str(exc).strip().splitlines()
        summary = first[0] if first else type(exc).__name__
        if not found and len(first) > 1:  # engine output: keep its error lines only
            found = [Problem(ln.strip()) for ln in first[1:]
                     if ln.strip().lower().startswith("error")][:10]
        return ErrorReport(summary, type(exc).__name__, found, exc.http_status)
    if isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError):
        return ErrorReport(f"{exc.strerror or exc}: {exc.filename}", type(exc).__name__)
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, ValueError | KeyError | LookupError):
        return ErrorReport(text.strip("'\""), type(exc).__name__, status=422)
    return ErrorReport(f"{type(exc).__name__}: {text} (a bug? rerun with {DEBUG_ENV}=1 "
                       "for the traceback)", type(exc).__name__)


def _violation(v: Any) -> str:
    if isinstance(v, dict):
        return f"{v.get('name')}: {v.get('actual')} exceeds the limit {v.get('limit')}"
    return str(v)


def emit(report: ErrorReport, mode: Mode) -> None:
    if mode == "json":
        sys.stdout.write(json.dumps(report.to_json(), sort_keys=True, default=str) + "\n")
    elif mode == "markdown":
        sys.stdout.write(report.to_markdown())
    else:
        sys.stderr.write(report.to_text() + "\n")


def fail(out: Any, exc: BaseException, *, markdown: bool = False) -> NoReturn:
    """Report `exc` in the command's output mode and exit 1 (traceback only when debugging)."""
    if os.environ.get(DEBUG_ENV):
        traceback.print_exception(exc, file=sys.stderr)
    mode: Mode = "markdown" if markdown else ("json" if getattr(out, "as_json", False)
                                             else "text")
    emit(describe(exc), mode)
    raise typer.Exit(EXIT_ERROR)
