"""`FleetManager.audit()`: do Neon, the fleet and each stack's state agree? (issue 14)

A pure comparison of three read-only views, gathered by `_auditor.py`:
- the fleet: every tenant each tier's fleet lists, its stack and its project's name;
- the state: every stack's exported checkpoint (resources with their `parent`, and the
  `pending_operations` an interrupted run left behind), plus the stale engine locks;
- Neon: every live project of every configured organization.

Each finding names its kind, its subject and, when it is safe, the fix `audit --fix` applies:
`adopt`/`provision` (an `up` of the tenant's shard: the project provider adopts a live project
by name), `clear_pending` (drop an interrupted operation from the checkpoint; every provider's
create adopts by name, so the next `up` finds what the interrupted one made), `forget_state`
(drop the state of a project Neon confirms is gone) and `clear_lock` (a stale engine lock).
Everything else needs a human and is only reported: nothing here ever deletes a project.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from neon_tenants.naming import (
    COMPONENT_TYPE,
    DYNAMIC_PACKAGE,
    PROJECT_TYPE,
    resource_type,
    tenants_in_state,
    urn_parts,
)

Kind = Literal[
    "ok",
    "drift",
    "orphan_project",
    "missing_project",
    "duplicate_projects",
    "unowned_resources",
    "pending_operation",
    "stale_lock",
    "not_deployed",
]
Fix = Literal["adopt", "provision", "clear_pending", "forget_state", "clear_lock"]

_OUR_TYPES = (DYNAMIC_PACKAGE + ":", COMPONENT_TYPE)


@dataclass(frozen=True)
class FleetTenant:
    """What the fleet declares for one tenant."""

    tenant: str
    tier: str
    stack: str
    project_name: str
    org_id: str
    adopt_project_id: str | None = None


@dataclass(frozen=True)
class NeonProject:
    id: str
    name: str
    org_id: str


@dataclass(frozen=True)
class StackState:
    """One stack's exported checkpoint (`pulumi stack export`, secrets left encrypted)."""

    stack: str
    resources: tuple[Mapping[str, Any], ...]
    pending: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class LockView:
    stack: str
    key: str
    holder: str


@dataclass(frozen=True)
class Finding:
    kind: Kind
    subject: str  # a tenant id, a project id or a stack name
    detail: str
    tenant: str | None = None
    tier: str | None = None
    stack: str | None = None
    project_ids: tuple[str, ...] = ()
    fix: Fix | None = None
    urn: str | None = None
    lock_key: str | None = None
    # an `up` of this finding's stack would delete a project (its state holds a tenant the
    # fleet does not place there): `--fix` runs no `up` there
    blocks_up: bool = False

    @property
    def needs_human(self) -> bool:
        return self.kind != "ok" and self.fix is None


@dataclass
class AuditReport:
    findings: list[Finding]
    tenants: int = 0
    projects: int = 0
    stacks: int = 0
    fixed: list[Finding] = field(default_factory=list)

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.kind != "ok"]

    @property
    def consistent(self) -> bool:
        return not self.problems

    @property
    def exit_code(self) -> int:
        return 0 if self.consistent else 1

    def of_kind(self, kind: Kind) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]

    def to_dict(self) -> dict[str, Any]:
        def one(f: Finding) -> dict[str, Any]:
            data = {k: v for k, v in asdict(f).items() if v not in (None, ())}
            data["needs_human"] = f.needs_human
            return data

        return {
            "consistent": self.consistent,
            "checked": {"tenants": self.tenants, "projects": self.projects, "stacks": self.stacks},
            "findings": [one(f) for f in self.findings],
            "fixed": [one(f) for f in self.fixed],
        }

    def markdown(self) -> str:
        head = "consistent" if self.consistent else f"{len(self.problems)} problem(s)"
        lines = [
            f"## Fleet audit: {head}",
            "",
            f"Checked {self.tenants} tenants, {self.projects} Neon projects, {self.stacks} stacks.",
            "",
        ]
        if self.fixed:
            lines += [
                "### Fixed",
                "",
                "| kind | subject | fix | detail |",
                "| --- | --- | --- | --- |",
            ]
            lines += [
                f"| {f.kind} | {f.subject} | {f.fix} | {_cell(f.detail)} |" for f in self.fixed
            ]
            lines.append("")
        lines += [
            "| kind | subject | tier | stack | fix | detail |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for f in self.findings:
            fix = f.fix or ("needs a human" if f.needs_human else "")
            lines.append(
                f"| {f.kind} | {f.subject} | {f.tier or ''} | {f.stack or ''} | {fix} "
                f"| {_cell(f.detail)} |"
            )
        return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# -- the comparison -----------------------------------------------------------------------


def _about(
    t: FleetTenant,
    kind: Kind,
    detail: str,
    *,
    stack: str | None = None,
    project_ids: tuple[str, ...] = (),
    fix: Fix | None = None,
    blocks_up: bool = False,
) -> Finding:
    """A finding about one fleet tenant (in its own stack unless told otherwise)."""
    return Finding(
        kind,
        t.tenant,
        detail,
        tenant=t.tenant,
        tier=t.tier,
        stack=stack or t.stack,
        project_ids=project_ids,
        fix=fix,
        blocks_up=blocks_up,
    )


def _type_of(urn: str) -> str:
    return resource_type(urn)


def _name_of(urn: str) -> str:
    return urn_parts(urn)[1]


def owners(resources: Iterable[Mapping[str, Any]]) -> dict[str, str | None]:
    """urn -> tenant for each of our resources (None: owned by no tenant), read from the
    `parent` chain up to the TenantDatabase component (naming.tenants_in_state), never
    parsed from a name."""
    listed = list(resources)
    owned = tenants_in_state(listed)
    return {
        str(r.get("urn", "")): owned.get(str(r.get("urn", "")))
        for r in listed
        if resource_type(str(r.get("urn", ""))).startswith(_OUR_TYPES)
    }


@dataclass(frozen=True)
class _StateProject:
    stack: str
    urn: str
    project_id: str


def compare(
    fleet: Sequence[FleetTenant],
    states: Sequence[StackState],
    projects: Sequence[NeonProject],
    stale_locks: Sequence[LockView] = (),
    gone: Iterable[str] = (),
) -> AuditReport:
    """The findings; `gone` = state project ids Neon confirmed missing (404 or deleted)."""
    confirmed_gone = set(gone)
    live = {p.id: p for p in projects}
    by_name: dict[str, list[NeonProject]] = defaultdict(list)
    for p in projects:
        by_name[p.name].append(p)
    declared = {t.tenant: t for t in fleet}

    in_state: dict[str, list[_StateProject]] = defaultdict(list)
    referenced: set[str] = set()
    findings: list[Finding] = []
    for st in states:
        owner = owners(st.resources)
        stray = [urn for urn, t in owner.items() if t is None]
        if stray:
            findings.append(
                Finding(
                    "unowned_resources",
                    st.stack,
                    f"{len(stray)} resource(s) owned by no tenant: " + ", ".join(stray[:5]),
                    stack=st.stack,
                )
            )
        foreign: dict[str, int] = defaultdict(int)
        for res in st.resources:
            urn = str(res.get("urn", ""))
            tenant = owner.get(urn)
            if tenant is None:
                continue
            if tenant not in declared:
                foreign[tenant] += 1
            if _type_of(urn) == PROJECT_TYPE:
                pid = str((res.get("outputs") or {}).get("project_id") or res.get("id") or "")
                in_state[tenant].append(_StateProject(st.stack, urn, pid))
                referenced.add(pid)
        for tenant, count in sorted(foreign.items()):
            findings.append(
                Finding(
                    "unowned_resources",
                    tenant,
                    f"{count} resource(s) of tenant {tenant} are in stack {st.stack}'s state "
                    "but the tenant is in no fleet: the next `up` of that stack deletes its "
                    "project; add it back to a fleet or remove it on purpose",
                    tenant=tenant,
                    stack=st.stack,
                    blocks_up=True,
                )
            )
        for op in st.pending:
            res = op.get("resource") or {}
            urn = str(res.get("urn", ""))
            kind = str(op.get("type", "?"))
            tenant = owners([*st.resources, res]).get(urn)
            name = (res.get("inputs") or {}).get("name")
            exists = (
                bool(name and by_name.get(str(name))) if _type_of(urn) == PROJECT_TYPE else None
            )
            note = {
                True: "; the project exists: the next `up` adopts it by name",
                False: "; no such project: the next `up` creates it",
                None: "; the next `up` adopts or creates it by name",
            }[exists]
            findings.append(
                Finding(
                    "pending_operation",
                    tenant or urn,
                    f"interrupted while {kind}: {_name_of(urn)}{note}",
                    tenant=tenant,
                    stack=st.stack,
                    urn=urn,
                    fix="clear_pending",
                )
            )

    for lock in stale_locks:
        findings.append(
            Finding(
                "stale_lock",
                lock.stack,
                f"engine lock of a dead holder ({lock.holder}) blocks every update",
                stack=lock.stack,
                fix="clear_lock",
                lock_key=lock.key,
            )
        )

    troubled: set[str] = {f.tenant for f in findings if f.tenant}
    for t in fleet:
        named = {p.id for p in by_name.get(t.project_name, [])}
        if t.adopt_project_id and t.adopt_project_id in live:
            named.add(t.adopt_project_id)
        entries = in_state.get(t.tenant, [])
        state_ids = {e.project_id for e in entries}
        before = len(findings)
        candidates = named | (state_ids & set(live))
        if len(candidates) > 1:
            findings.append(
                _about(
                    t,
                    "duplicate_projects",
                    f"{len(candidates)} live projects for one tenant: "
                    + ", ".join(
                        f"{pid} ({'in state' if pid in state_ids else 'not in state'})"
                        for pid in sorted(candidates)
                    )
                    + "; keep the one with the data, move or delete the other by hand",
                    project_ids=tuple(sorted(candidates)),
                )
            )
        if not entries:
            if named:
                findings.append(
                    _about(
                        t,
                        "not_deployed",
                        f"in the fleet, not in stack {t.stack}'s state; project "
                        f"{', '.join(sorted(named))} exists: `up` adopts it",
                        project_ids=tuple(sorted(named)),
                        fix="adopt" if len(named) == 1 else None,
                    )
                )
            else:
                findings.append(
                    _about(
                        t,
                        "not_deployed",
                        "in the fleet, in no state and no Neon project: `up` creates it",
                        fix="provision",
                    )
                )
        for entry in entries:
            if entry.stack != t.stack:
                findings.append(
                    _about(
                        t,
                        "drift",
                        f"also in stack {entry.stack}'s state (the fleet places it in "
                        f"{t.stack}): an unfinished tier move; rerun the upgrade/downgrade",
                        project_ids=(entry.project_id,),
                        stack=entry.stack,
                        blocks_up=True,
                    )
                )
            project = live.get(entry.project_id)
            if project is None:
                gone_for_sure = entry.project_id in confirmed_gone
                findings.append(
                    _about(
                        t,
                        "missing_project",
                        f"state points at project {entry.project_id}, which Neon "
                        + (
                            "confirms is gone: drop the state, then `up` re-creates an empty "
                            "project (recover the old one within Neon's 7 days if it held data)"
                            if gone_for_sure
                            else "does not list (not confirmed gone: check by hand)"
                        ),
                        project_ids=(entry.project_id,),
                        fix="forget_state" if gone_for_sure else None,
                        stack=entry.stack,
                    )
                )
                continue
            drift = []
            if project.name != t.project_name:
                drift.append(f"name {project.name!r} (fleet: {t.project_name!r})")
            if entry.stack == t.stack and t.org_id and project.org_id != t.org_id:
                drift.append(f"org {project.org_id} (tier {t.tier}: {t.org_id})")
            if drift:
                findings.append(
                    _about(
                        t,
                        "drift",
                        f"project {project.id}: "
                        + "; ".join(drift)
                        + f"; `neon-tenants up --tier {t.tier}` brings it back",
                        project_ids=(project.id,),
                        stack=entry.stack,
                    )
                )
        if len(findings) == before and t.tenant not in troubled:
            findings.append(_about(t, "ok", "", project_ids=tuple(sorted(state_ids))))

    names = {t.project_name for t in fleet}
    for p in projects:
        if p.id not in referenced and p.name not in names:
            findings.append(
                Finding(
                    "orphan_project",
                    p.id,
                    f"project {p.name!r} in org {p.org_id} is in no fleet and no state; "
                    "adopt it (`neon-tenants tenant adopt`) or delete it by hand",
                    project_ids=(p.id,),
                )
            )
    order = {k: i for i, k in enumerate(Kind.__args__)}  # type: ignore[attr-defined]
    findings.sort(key=lambda f: (f.kind == "ok", order[f.kind], f.subject))
    return AuditReport(
        findings,
        tenants=len(fleet),
        projects=len(projects),
        stacks=len(states),
    )
