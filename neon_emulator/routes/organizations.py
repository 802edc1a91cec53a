"""Organizations (spec tag Organizations): get, org API keys (incl. project-scoped), project
transfer; and project transfer requests (tag Project)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Response

from neon_emulator.deps import CallerDep, RuntimeDep
from neon_emulator.engine import ids, provision, transfer
from neon_emulator.engine.clock import iso, parse_ts
from neon_emulator.errors import ApiError, not_found
from neon_emulator.routes import _render as render
from neon_emulator.routes._inputs import (
    OrgApiKeyCreate,
    TransferRequest,
    TransferRequestAccept,
    TransferRequestCreate,
)
from neon_emulator.runtime import Runtime
from neon_emulator.store.records import KeyRecord, TransferRequestRecord
from neon_emulator.store.state import Caller

router = APIRouter(tags=["Organizations"])
Json = dict[str, Any]
MAX_TTL = 10 * 365 * 86_400  # int64 ttl_seconds would overflow datetime; clamp


def creator(rt: Runtime) -> Json:
    u = rt.store.world.user
    return {"id": u.id, "name": u.name, "image": ""}


def key_item(rt: Runtime, k: KeyRecord) -> Json:
    body: Json = {"id": k.id, "name": k.name, "created_at": k.created_at,
                  "created_by": creator(rt), "last_used_from_addr": "127.0.0.1"}
    if k.last_used_at:
        body["last_used_at"] = k.last_used_at
    if k.project_id:
        body["project_id"] = k.project_id
    return body


def _org_admin(caller: Caller, org_id: str) -> None:
    """Org-wide keys and personal keys of members manage an org; project keys do not."""
    if not caller.sees_org(org_id):
        raise not_found(f"organization {org_id}")
    if caller.project_id is not None:
        raise ApiError(403, "a project-scoped API key cannot manage the organization",
                       code="FORBIDDEN")


@router.get("/organizations/{org_id}")
def get_organization(org_id: str, rt: RuntimeDep, caller: CallerDep) -> Json:
    if not caller.sees_org(org_id):
        raise not_found(f"organization {org_id}")
    return render.organization(rt.store.world.orgs[org_id])


@router.get("/organizations/{org_id}/api_keys")
def list_org_keys(org_id: str, rt: RuntimeDep, caller: CallerDep) -> list[Json]:
    _org_admin(caller, org_id)
    with rt.store.lock:
        return [key_item(rt, k) for k in rt.store.world.keys.values()
                if k.kind == "org" and k.org_id == org_id and not k.revoked]


@router.post("/organizations/{org_id}/api_keys")
def create_org_key(org_id: str, body: OrgApiKeyCreate, rt: RuntimeDep,
                   caller: CallerDep) -> Json:
    _org_admin(caller, org_id)
    with rt.store.lock:
        if body.project_id is not None:
            p = rt.store.world.projects.get(body.project_id)
            if p is None or p.org_id != org_id or p.deleted_at:
                raise not_found(f"project {body.project_id}")
        k = KeyRecord(id=rt.store.next_key_id(), key=ids.api_key(), name=body.key_name,
                      kind="org", org_id=org_id, project_id=body.project_id,
                      created_at=provision.now(rt))
        rt.store.add_key(k)
        out = key_item(rt, k)
        out.pop("last_used_from_addr", None)
        out["key"] = k.key
        out["created_by"] = rt.store.world.user.id  # a uuid string here, unlike the list
    rt.changed()
    return out


@router.delete("/organizations/{org_id}/api_keys/{key_id}")
def revoke_org_key(org_id: str, key_id: int, rt: RuntimeDep, caller: CallerDep) -> Json:
    _org_admin(caller, org_id)
    with rt.store.lock:
        k = rt.store.world.keys.get(key_id)
        if k is None or k.kind != "org" or k.org_id != org_id or k.revoked:
            raise not_found(f"API key {key_id}")
        rt.store.revoke_key(k)
        out = key_item(rt, k) | {"revoked": True, "created_by": rt.store.world.user.id}
    rt.changed()
    return out


@router.post("/organizations/{source_org_id}/projects/transfer")
def transfer_projects(source_org_id: str, body: TransferRequest, rt: RuntimeDep,
                      caller: CallerDep) -> Json:
    """Moving between orgs needs the personal key of a member of both (org key: 403)."""
    if not caller.sees_org(source_org_id):
        raise not_found(f"organization {source_org_id}")
    if not caller.personal:
        raise ApiError(403, "transferring projects between organizations requires a personal "
                       "API key", code="FORBIDDEN")
    if not caller.sees_org(body.destination_org_id):
        raise not_found(f"organization {body.destination_org_id}")
    with rt.store.lock:
        transfer.check_and_move(rt, source_org_id, body.destination_org_id, body.project_ids)
    rt.changed()
    return {}


@router.post("/projects/{project_id}/transfer_requests", status_code=201, tags=["Project"])
def create_transfer_request(
    project_id: str, rt: RuntimeDep, caller: CallerDep,
    body: Annotated[TransferRequestCreate | None, Body()] = None,
) -> Json:
    ttl = min((body.ttl_seconds if body and body.ttl_seconds else None) or 86_400, MAX_TTL)
    with rt.store.lock:
        p = rt.store.project(caller, project_id)
        now = rt.clock.now()
        tr = TransferRequestRecord(id=ids.uuid4(), project_id=p.id, created_at=iso(now),
                                   expires_at=iso(now + timedelta(seconds=ttl)))
        rt.store.world.transfer_requests[tr.id] = tr
    rt.changed()
    return {"id": tr.id, "project_id": tr.project_id, "created_at": tr.created_at,
            "expires_at": tr.expires_at}


@router.put("/projects/{project_id}/transfer_requests/{request_id}", status_code=204,
            tags=["Project"], response_model=None)
def accept_transfer_request(
    project_id: str, request_id: str, rt: RuntimeDep, caller: CallerDep,
    body: Annotated[TransferRequestAccept | None, Body()] = None,
) -> Response:
    """Accepting moves the project into the caller's org (`org_id`, or the key's org)."""
    with rt.store.lock:
        tr = rt.store.world.transfer_requests.get(request_id)
        p = rt.store.world.projects.get(project_id)
        if tr is None or p is None or tr.project_id != project_id or tr.accepted:
            raise not_found(f"transfer request {request_id}")
        if parse_ts(tr.expires_at) <= rt.clock.now():
            raise ApiError(406, "transfer request expired",
                           body={"reasons": [{"message": "transfer request expired",
                                              "code": "EXPIRED"}]})
        dest = (body.org_id if body and body.org_id else None) or caller.key.org_id
        if dest is None or not caller.sees_org(dest):
            raise not_found(f"organization {dest}")
        try:
            transfer.check_and_move(rt, p.org_id, dest, [p.id])
        except ApiError as exc:
            if exc.status != 406:
                raise
            reasons = [{"message": f"{x['name']}: expected {x['expected']}, got {x['actual']}",
                        "code": x["name"]} for x in (exc.body or {}).get("limits", [])]
            raise ApiError(406, exc.message, body={"reasons": reasons}) from exc
        tr.accepted = True
    rt.changed()
    return Response(status_code=204)
