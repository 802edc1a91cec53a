"""The dynamic-provider host's one-line answers (providers/_diagnostics.py), checked on the
function the host calls; the engine path itself is proven in test_cli_stacks_emulator.py."""

from __future__ import annotations

import sys
import types

import pytest
from pydantic import BaseModel, ValidationError

from neon_tenants.client import errors as neon
from neon_tenants.providers import _diagnostics as diag
from neon_tenants.providers._base import ProviderError


class _Inputs(BaseModel):
    max_cu: float


def _raised(exc: BaseException) -> str:
    try:
        raise exc
    except BaseException:  # noqa: BLE001
        return diag._HostTraceback().format_exc()


def test_provider_error_is_its_own_sentence() -> None:
    assert _raised(ProviderError("quota x: do y")) == "quota x: do y"


def test_neon_error_names_neon_and_what_to_do() -> None:
    line = _raised(neon.Locked(423, "LOCKED", "project busy", "req-1"))
    assert "\n" not in line and line.startswith("Neon API: ")
    assert line.endswith("run the same `pulumi up` again")


def test_invalid_inputs_name_each_field() -> None:
    try:
        _Inputs.model_validate({"max_cu": "lots"})
    except ValidationError as err:
        line = _raised(err)
    assert line.startswith("invalid inputs: max_cu: ") and "\n" not in line


def test_unexpected_error_says_how_to_get_the_traceback_and_masks_uris() -> None:
    line = _raised(RuntimeError("boom postgresql://u:s3cret@h/db"))
    assert "s3cret" not in line and "NEON_TENANTS_DEBUG=1" in line and "\n" not in line


def test_debug_flag_keeps_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEON_TENANTS_DEBUG", "1")
    assert _raised(ProviderError("x")).startswith("Traceback (most recent call last)")


def test_install_only_touches_the_provider_host() -> None:
    import traceback

    host = types.ModuleType("__main__")
    host.__spec__ = types.SimpleNamespace(name=diag.HOST_MODULE)  # type: ignore[assignment]
    host.traceback = traceback  # type: ignore[attr-defined]
    assert diag.install({"__main__": host}) is True
    assert isinstance(host.traceback, diag._HostTraceback)  # type: ignore[attr-defined]
    other = types.ModuleType("__main__")
    other.traceback = traceback  # type: ignore[attr-defined]
    assert diag.install({"__main__": other}) is False
    assert other.traceback is traceback  # type: ignore[attr-defined]
    assert diag.install() is (getattr(sys.modules["__main__"].__spec__, "name", None)
                              == diag.HOST_MODULE)
