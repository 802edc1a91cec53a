"""Organization limits from the guide's table, and input ranges from the spec.

Malformed values (outside the spec's own ranges) are 400; values the spec allows but the
organization does not (e.g. 4 CU on the Free org) are 422 LIMIT_EXCEEDED, the status a
client sees for a well-formed request the account cannot have.
"""

from __future__ import annotations

from neon_emulator.errors import bad_request, limit_exceeded
from neon_emulator.settings import OrgLimits

DEFAULT_SUSPEND = 300
MAX_SUSPEND = 604_800
MAX_RETENTION = 2_592_000


def check_cu(limits: OrgLimits, min_cu: float, max_cu: float) -> None:
    if min_cu < 0.25 or max_cu < 0.25:
        raise bad_request("autoscaling limits must be at least 0.25 CU")
    if min_cu > max_cu:
        raise bad_request(
            f"autoscaling_limit_min_cu ({min_cu}) must not exceed autoscaling_limit_max_cu "
            f"({max_cu})"
        )
    if min_cu < limits.min_cu or max_cu > limits.max_cu:
        raise limit_exceeded(
            f"compute size {min_cu}-{max_cu} CU is outside the organization's allowed range "
            f"{limits.min_cu}-{limits.max_cu} CU"
        )


def resolve_suspend(limits: OrgLimits, value: int) -> int:
    """0 means the 300 s default, -1 never; others 60..604800 (SuspendTimeoutSeconds)."""
    if value == 0:
        value = DEFAULT_SUSPEND
    if value == -1:
        if limits.min_suspend_timeout_seconds > 60:
            raise limit_exceeded("this organization cannot disable scale to zero (-1)")
        return -1
    if value < 60 or value > MAX_SUSPEND:
        raise bad_request("suspend_timeout_seconds must be -1, 0 or 60..604800")
    if value < limits.min_suspend_timeout_seconds:
        raise limit_exceeded(
            f"suspend_timeout_seconds {value} is below the organization's minimum "
            f"{limits.min_suspend_timeout_seconds}"
        )
    return value


def check_retention(limits: OrgLimits, seconds: int) -> None:
    if seconds < 0 or seconds > MAX_RETENTION:
        raise bad_request("history_retention_seconds must be 0..2592000")
    if seconds > limits.max_history_retention_seconds:
        raise limit_exceeded(
            f"history_retention_seconds {seconds} exceeds the organization's maximum "
            f"{limits.max_history_retention_seconds}"
        )


def check_count(what: str, current: int, maximum: int) -> None:
    if current >= maximum:
        raise limit_exceeded(f"{what} limit reached ({maximum})")


def transfer_violations(
    limits: OrgLimits, *, max_cu: float, min_suspend: int | None, branches: int,
    snapshots: int, retention: int,
) -> list[dict[str, str]]:
    """LimitsUnsatisfiedResponse items for one project moving into an org with `limits`."""
    out: list[dict[str, str]] = []
    if max_cu > limits.max_cu:
        out.append({"name": "max_autoscaling_limit", "expected": str(limits.max_cu),
                    "actual": str(max_cu)})
    if branches > limits.max_branches:
        out.append({"name": "branches_count", "expected": str(limits.max_branches),
                    "actual": str(branches)})
    if snapshots > limits.max_snapshots:
        out.append({"name": "snapshots_count", "expected": str(limits.max_snapshots),
                    "actual": str(snapshots)})
    if retention > limits.max_history_retention_seconds:
        out.append({"name": "history_retention_seconds",
                    "expected": str(limits.max_history_retention_seconds),
                    "actual": str(retention)})
    if min_suspend is not None and min_suspend < limits.min_suspend_timeout_seconds:
        out.append({"name": "suspend_timeout_seconds",
                    "expected": str(limits.min_suspend_timeout_seconds),
                    "actual": str(min_suspend)})
    return out
