"""Neon Auth (branch-scoped create/get/delete) and the Data API (POST/GET/PATCH/DELETE).

Both are control-plane records here: plausible keys and URLs, no identity service. The
routes are the real ones (the guide's `POST /auth` and `data_api` paths do not exist).
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Body

from neon_emulator.deps import CallerDep, RuntimeDep
from neon_emulator.engine import ids, provision
from neon_emulator.errors import conflict, not_found
from neon_emulator.routes._inputs import (
    DataApiCreate,
    DataApiUpdate,
    NeonAuthCreate,
    NeonAuthDelete,
)
from neon_emulator.runtime import Runtime
from neon_emulator.store.records import DataApiRecord, NeonAuthRecord

router = APIRouter()
Json = dict[str, Any]
BRANCH = "/projects/{project_id}/branches/{branch_id}"
DATA_API_DEFAULTS: Json = {
    "db_aggregates_enabled": True, "db_anon_role": "anonymous", "db_schemas": ["public"],
    "jwt_role_claim_key": ".role", "openapi_mode": "disabled",
}


def _auth_urls(rt: Runtime, rec: NeonAuthRecord) -> Json:
    base = f"http://127.0.0.1:{rt.settings.port}/_emulator/auth/{rec.branch_id}"
    return {"jwks_url": f"{base}/.well-known/jwks.json", "base_url": base}


@router.post(BRANCH + "/auth", status_code=201, tags=["Auth"])
def create_neon_auth(project_id: str, branch_id: str, body: NeonAuthCreate, rt: RuntimeDep,
                     caller: CallerDep) -> Json:
    with rt.store.lock:
        p = rt.store.project(caller, project_id)
        b = rt.store.branch(p.id, branch_id)
        if b.id in rt.store.world.neon_auth:
            raise conflict("Neon Auth is already enabled for this branch")
        db = body.database_name or next(
            (d.name for d in rt.store.databases_of(b.id)), "neondb")
        rt.store.database(b.id, db)
        rec = NeonAuthRecord(
            project_id=p.id, branch_id=b.id, auth_provider=body.auth_provider,
            auth_provider_project_id=ids.uuid4(),
            pub_client_key="pck_" + secrets.token_hex(24),
            secret_server_key="ssk_" + secrets.token_hex(24), db_name=db,
            created_at=provision.now(rt))
        rt.store.world.neon_auth[b.id] = rec
    rt.changed()
    return {"auth_provider": rec.auth_provider,
            "auth_provider_project_id": rec.auth_provider_project_id,
            "pub_client_key": rec.pub_client_key, "secret_server_key": rec.secret_server_key,
            "schema_name": "neon_auth", "table_name": "users_sync", **_auth_urls(rt, rec)}


@router.get(BRANCH + "/auth", tags=["Auth"])
def get_neon_auth(project_id: str, branch_id: str, rt: RuntimeDep, caller: CallerDep) -> Json:
    with rt.store.lock:
        p = rt.store.project(caller, project_id)
        b = rt.store.branch(p.id, branch_id)
        rec = rt.store.world.neon_auth.get(b.id)
        if rec is None:
            raise not_found("Neon Auth integration")
        return {"auth_provider": rec.auth_provider,
                "auth_provider_project_id": rec.auth_provider_project_id,
                "branch_id": rec.branch_id, "db_name": rec.db_name,
                "created_at": rec.created_at, "owned_by": "neon", **_auth_urls(rt, rec)}


@router.delete(BRANCH + "/auth", tags=["Auth"])
def delete_neon_auth(project_id: str, branch_id: str, rt: RuntimeDep, caller: CallerDep,
                     body: Annotated[NeonAuthDelete | None, Body()] = None) -> Json:
    with rt.store.lock:
        p = rt.store.project(caller, project_id)
        b = rt.store.branch(p.id, branch_id)
        if rt.store.world.neon_auth.pop(b.id, None) is None:
            raise not_found("Neon Auth integration")
    rt.changed()
    return {}


def _data_api_url(rt: Runtime, rec: DataApiRecord) -> str:
    return (f"http://127.0.0.1:{rt.settings.port}/_emulator/data-api/{rec.branch_id}/"
            f"{rec.database_name}/rest/v1")


@router.post(BRANCH + "/data-api/{database_name}", status_code=201, tags=["DataAPI"])
def create_data_api(project_id: str, branch_id: str, database_name: str, rt: RuntimeDep,
                    caller: CallerDep,
                    body: Annotated[DataApiCreate | None, Body()] = None) -> Json:
    with rt.store.lock:
        p = rt.store.project(caller, project_id)
        b = rt.store.branch(p.id, branch_id)
        rt.store.database(b.id, database_name)
        key = f"{b.id}/{database_name}"
        if key in rt.store.world.data_api:
            raise conflict("the Data API is already enabled for this database")
        settings = dict(DATA_API_DEFAULTS) | dict((body.settings if body else None) or {})
        rec = DataApiRecord(project_id=p.id, branch_id=b.id, database_name=database_name,
                            settings=settings, created_at=provision.now(rt))
        rt.store.world.data_api[key] = rec
    rt.changed()
    return {"url": _data_api_url(rt, rec)}


def _data_api(rt: Runtime, caller: Any, project_id: str, branch_id: str,
              database_name: str) -> DataApiRecord:
    p = rt.store.project(caller, project_id)
    b = rt.store.branch(p.id, branch_id)
    rec = rt.store.world.data_api.get(f"{b.id}/{database_name}")
    if rec is None:
        raise not_found("Data API")
    return rec


@router.get(BRANCH + "/data-api/{database_name}", tags=["DataAPI"])
def get_data_api(project_id: str, branch_id: str, database_name: str, rt: RuntimeDep,
                 caller: CallerDep) -> Json:
    with rt.store.lock:
        rec = _data_api(rt, caller, project_id, branch_id, database_name)
        return {"url": _data_api_url(rt, rec), "status": "ready", "settings": rec.settings,
                "available_schemas": ["public"]}


@router.patch(BRANCH + "/data-api/{database_name}", status_code=201, tags=["DataAPI"])
def update_data_api(project_id: str, branch_id: str, database_name: str, rt: RuntimeDep,
                    caller: CallerDep,
                    body: Annotated[DataApiUpdate | None, Body()] = None) -> Json:
    with rt.store.lock:
        rec = _data_api(rt, caller, project_id, branch_id, database_name)
        if body and body.settings:
            rec.settings = rec.settings | body.settings
    rt.changed()
    return {}


@router.delete(BRANCH + "/data-api/{database_name}", tags=["DataAPI"])
def delete_data_api(project_id: str, branch_id: str, database_name: str, rt: RuntimeDep,
                    caller: CallerDep) -> Json:
    with rt.store.lock:
        rec = _data_api(rt, caller, project_id, branch_id, database_name)
        del rt.store.world.data_api[f"{rec.branch_id}/{rec.database_name}"]
    rt.changed()
    return {}
