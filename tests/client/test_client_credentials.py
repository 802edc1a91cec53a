"""Credentials: env/file loading, key choice per call, fail-fast, and redaction everywhere."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from neon_tenants.client import (
    MissingCredential,
    NeonAPIError,
    NeonClient,
    NeonCredentials,
    OperationFailed,
    ProjectCreate,
)

from . import factories as f
from .conftest import FREE_KEY, PAID_KEY, PERSONAL_KEY, SECRETS, Script


def test_from_file_and_env_with_env_winning(tmp_path):
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps({
        "personal_api_key": "file-personal",
        "orgs": {"free": {"id": "org-f", "api_key": "file-free"},
                 "team": {"id": "org-t", "api_key": "file-team"}},
    }))
    env = {"NEON_CREDENTIALS_FILE": str(path), "NEON_PERSONAL_API_KEY": "env-personal",
           "NEON_PAID_ORG_ID": "org-p", "NEON_PAID_ORG_API_KEY": "env-paid",
           "NEON_FREE_ORG_API_KEY": "env-free"}
    creds = NeonCredentials.from_env(env)
    assert creds.personal().get_secret_value() == "env-personal"
    assert creds.resolve("free")[1].api_key.get_secret_value() == "env-free"
    assert creds.resolve("free")[1].id == "org-f"
    assert creds.resolve("org-p")[0] == "paid"
    assert creds.resolve("team")[1].id == "org-t"


def test_from_env_reads_process_environment(monkeypatch):
    monkeypatch.setenv("NEON_FREE_ORG_ID", "org-env")
    monkeypatch.setenv("NEON_FREE_ORG_API_KEY", "k")
    creds = NeonCredentials.from_env()
    assert creds.resolve("free")[1].id == "org-env"
    assert creds.personal_api_key is None


def test_empty_env_means_no_credentials():
    assert NeonCredentials.from_env({}).is_empty()


def test_org_calls_use_org_key_and_personal_calls_personal_key(make_client):
    script = Script(
        httpx.Response(200, json={"project": f.project()}),
        httpx.Response(200, json={"project": f.project()}),
        httpx.Response(200, json={}),
    )
    client = make_client(script)
    client.org("free").get_project("proj-1")
    client.org("org-paid-1").get_project("proj-1")
    client.personal.transfer_projects("org-free-1", "org-paid-1", ["proj-1"])
    auth = [r.headers["Authorization"] for r in script.requests]
    assert auth == [f"Bearer {FREE_KEY}", f"Bearer {PAID_KEY}", f"Bearer {PERSONAL_KEY}"]


def test_transfer_without_personal_key_fails_before_any_request(make_client, creds):
    script = Script()
    no_personal = creds.model_copy(update={"personal_api_key": None})
    client = make_client(script, credentials=no_personal)
    with pytest.raises(MissingCredential) as info:
        client.personal.transfer_projects("org-free-1", "org-paid-1", ["proj-1"])
    assert "personal_api_key" in str(info.value)
    assert script.requests == []


def test_unknown_org_alias_is_missing_credential(make_client):
    with pytest.raises(MissingCredential) as info:
        make_client(Script()).org("enterprise")
    assert "free" in str(info.value) and FREE_KEY not in str(info.value)


def test_secrets_absent_from_reprs_errors_and_logs(make_client, creds, caplog):
    caplog.set_level(logging.DEBUG)
    script = Script(
        httpx.Response(503, json={"code": "", "message": "busy"}),
        httpx.Response(201, json=f.created_project(
            ops=[f.op("running", op_id="7b0c8e0e-1111-4222-8333-444455556666")])),
        httpx.Response(200, json={"operation": f.op(
            "error", op_id="7b0c8e0e-1111-4222-8333-444455556666", error="boom")}),
        httpx.Response(401, json={"code": "UNAUTHORIZED", "message": "bad key"}),
    )
    client = make_client(script)
    texts = [repr(creds), str(creds), repr(client), repr(client.org("free")),
             repr(client.personal), repr(creds.orgs["free"])]
    with pytest.raises(OperationFailed) as failed:
        client.org("free").create_project(ProjectCreate(name="nt-acme"))
    with pytest.raises(NeonAPIError) as api_err:
        client.org("free").get_project("proj-1")
    texts += [str(failed.value), repr(failed.value), str(api_err.value), repr(api_err.value)]
    texts += [r.getMessage() for r in caplog.records]
    assert any("neon POST /projects" in t for t in texts), "logging is exercised"
    blob = "\n".join(texts)
    for secret in (*SECRETS, f.SECRET_PASSWORD):
        assert secret not in blob


def test_connection_uri_and_passwords_are_secret(make_client):
    script = Script(
        httpx.Response(201, json=f.created_project(ops=[])),
        httpx.Response(200, json={"uri": f.SECRET_URI}),
        httpx.Response(200, json={"password": f.SECRET_PASSWORD}),
    )
    org = make_client(script).org("free")
    created = org.create_project(ProjectCreate(name="nt-acme"))
    uri = org.connection_uri("proj-1", "neondb", "owner", pooled=True)
    password = org.reveal_role_password("proj-1", "br-main-1", "owner")
    assert uri.get_secret_value() == f.SECRET_URI
    assert password.get_secret_value() == f.SECRET_PASSWORD
    assert script.requests[1].url.params["pooled"] == "true"
    for text in (repr(created), str(created), repr(uri), repr(password)):
        assert f.SECRET_PASSWORD not in text


def test_client_from_env_uses_base_url(monkeypatch):
    monkeypatch.setenv("NEON_API_BASE_URL", "http://127.0.0.1:9/api/v2")
    monkeypatch.setenv("NEON_FREE_ORG_ID", "org-1")
    monkeypatch.setenv("NEON_FREE_ORG_API_KEY", "k1")
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={"project": f.project()})

    with NeonClient.from_env(transport=httpx.MockTransport(handler)) as client:
        client.org("free").get_project("proj-1")
    assert seen == ["http://127.0.0.1:9/api/v2/projects/proj-1"]
