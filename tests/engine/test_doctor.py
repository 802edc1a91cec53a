"""`neon-tenants doctor`: exit code and what it may (not) print."""

from __future__ import annotations

from pathlib import Path

import pytest

from neon_tenants.doctor import run_doctor


@pytest.mark.engine
def test_doctor_passes_on_a_bootstrapped_machine(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_doctor() == 0
    out = capsys.readouterr().out
    assert "pulumi-language-python  v3.274.1" in out
    assert "postgres (PostgreSQL) 15." in out
    assert "the local emulator will be used" in out
    assert "ok      pulumi-command 1.2.1" in out
    assert "ok      pg_dump/pg_restore      15." in out
    assert "pg_dump vs server" not in out  # a client for every major the emulator runs


def test_doctor_warns_when_neon_tiers_run_a_newer_major_than_pg_dump(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # only Debian's client 15: no cached majors, no extra bin dirs
    monkeypatch.setenv("NEON_TENANTS_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("NEON_TENANTS_PG_BIN_DIRS", "")
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setenv("NEON_API_BASE_URL", "https://console.neon.tech/api/v2")
    run_doctor()
    out = capsys.readouterr().out
    # the built-in tiers declare PostgreSQL 17; this machine's client is 15
    assert "WARN    pg_dump vs server       tier free (Neon) runs PostgreSQL 17" in out
    assert "install postgresql-client-17" in out


def test_doctor_requires_the_command_plugin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PULUMI_HOME", str(tmp_path / "empty-home"))
    assert run_doctor() == 1
    out = capsys.readouterr().out
    assert "MISSING pulumi-command 1.2.1" in out
    assert "missing: pulumi-command 1.2.1 -> run `make setup`" in out


def test_doctor_fails_and_names_the_fix_without_an_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NEON_TENANTS_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert run_doctor() == 1
    out = capsys.readouterr().out
    assert "MISSING pulumi " in out
    assert "make setup" in out


def test_doctor_never_prints_keys_or_passwords(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NEON_PERSONAL_API_KEY", "napi_do_not_print_me")
    monkeypatch.setenv("NEON_API_BASE_URL", "https://user:hunter2@neon.example/api/v2")
    monkeypatch.setenv("PULUMI_BACKEND_URL", "postgres://u:pgsecret@127.0.0.1/state")
    run_doctor()
    out = capsys.readouterr().out
    assert "napi_do_not_print_me" not in out and "hunter2" not in out and "pgsecret" not in out
    assert "real Neon at https://neon.example/api/v2" in out
    assert "NEON_PERSONAL_API_KEY" in out
