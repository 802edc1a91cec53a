"""Engine and client errors become a small domain tree with HTTP statuses."""

from __future__ import annotations

import pytest
from pulumi.automation import errors as auto
from pulumi.automation._cmd import CommandResult

from neon_tenants.automation import (
    DeploymentFailed,
    FleetError,
    InvalidRequest,
    LimitsExceeded,
    NeonUnavailable,
    ShardBusy,
    StackNotFound,
    TenantNotFound,
    translate,
)
from neon_tenants.automation._errors import scrub
from neon_tenants.client import errors as neon


def result(stderr: str) -> CommandResult:
    return CommandResult(stdout="", stderr=stderr, code=255)


@pytest.mark.parametrize(
    ("exc", "cls", "status"),
    [
        (
            auto.ConcurrentUpdateError(result("the stack is currently locked by 1 lock(s)")),
            ShardBusy,
            503,
        ),
        (auto.StackNotFoundError(result("no stack named 'free-03' found")), StackNotFound, 404),
        (
            auto.CommandError(result("error: update failed\nresource x failed")),
            DeploymentFailed,
            502,
        ),
        (ValueError("tenant id 'X' must be ..."), InvalidRequest, 422),
        (RuntimeError("boom"), FleetError, 500),
    ],
)
def test_translate_maps_to_domain_class_and_status(
    exc: BaseException, cls: type, status: int
) -> None:
    out = translate(exc, stack="free-03")
    assert type(out) is cls
    assert out.http_status == status


def test_domain_errors_pass_through_unchanged() -> None:
    err = LimitsExceeded("too big", violations=[{"name": "branches", "actual": 12, "limit": 10}])
    assert translate(err) is err
    assert err.http_status == 409 and err.details["violations"][0]["actual"] == 12


def test_neon_not_found_and_other_client_errors() -> None:
    nf = neon.NotFound(404, "not_found", "project not found", "req-1")
    assert isinstance(translate(nf), TenantNotFound)
    other = neon.NeonAPIError(500, "", "internal", "req-2")
    assert isinstance(translate(other), NeonUnavailable)


def test_engine_output_with_a_password_is_scrubbed() -> None:
    text = (
        "error: connect postgresql://neondb_owner:s3cr3tpw@127.1.0.2/neondb failed\n"
        "Authorization: Bearer napi_abcdefghijklmnop"
    )
    out = translate(auto.CommandError(result(text)), stack="pro")
    assert "s3cr3tpw" not in str(out) and "napi_abcdefghijklmnop" not in str(out)
    assert "postgresql://neondb_owner:****@127.1.0.2/neondb" in str(out)


def test_scrub_keeps_uris_without_password() -> None:
    assert scrub("postgresql://user@host/db") == "postgresql://user@host/db"
