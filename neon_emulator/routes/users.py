"""Users, personal API keys, regions and /auth (spec tags Users, API Key, Region)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from neon_emulator.deps import CallerDep, RuntimeDep
from neon_emulator.engine import ids, provision
from neon_emulator.errors import ApiError, not_found
from neon_emulator.routes import _render as render
from neon_emulator.routes._inputs import ApiKeyCreate
from neon_emulator.routes.organizations import key_item
from neon_emulator.store.records import KeyRecord
from neon_emulator.store.state import Caller

router = APIRouter()
Json = dict[str, Any]
REGIONS = (
    ("aws-us-east-2", "AWS US East (Ohio)", "39.96", "-83.0"),
    ("aws-us-east-1", "AWS US East (N. Virginia)", "38.13", "-78.45"),
    ("aws-us-west-2", "AWS US West (Oregon)", "45.87", "-119.69"),
    ("aws-eu-central-1", "AWS Europe (Frankfurt)", "50.11", "8.68"),
)


def _personal(caller: Caller) -> None:
    if not caller.personal:
        raise ApiError(403, "this operation requires a personal API key", code="FORBIDDEN")


@router.get("/users/me", tags=["Users"])
def users_me(rt: RuntimeDep, caller: CallerDep) -> Json:
    _personal(caller)
    u = rt.store.world.user
    paid = max((o.limits for o in rt.store.world.orgs.values()),
               key=lambda lim: lim.max_branches, default=None)
    return {
        "active_seconds_limit": 0, "id": u.id, "email": u.email, "login": u.login,
        "name": u.name, "last_name": u.last_name, "image": "",
        "projects_limit": sum(o.limits.max_projects for o in rt.store.world.orgs.values()),
        "branches_limit": paid.max_branches if paid else 10,
        "max_autoscaling_limit": paid.max_cu if paid else 2.0,
        "compute_seconds_limit": 0,
        "auth_accounts": [{"provider": "hasura", "email": u.email, "name": u.name,
                           "login": u.login, "image": ""}],
        "plan": "free",
    }


@router.get("/users/me/organizations", tags=["Users"])
def my_organizations(rt: RuntimeDep, caller: CallerDep) -> Json:
    orgs = [o for o in rt.store.world.orgs.values() if caller.sees_org(o.id)]
    return {"organizations": [render.organization(o) for o in orgs]}


@router.get("/auth", tags=["Users"])
def auth_details(rt: RuntimeDep, caller: CallerDep) -> Json:
    if caller.personal:
        return {"account_id": rt.store.world.user.id, "auth_method": "api_key_user"}
    return {"account_id": caller.key.org_id or "", "auth_method": "api_key_org"}


@router.get("/regions", tags=["Region"])
def regions(rt: RuntimeDep, caller: CallerDep) -> Json:
    default = rt.settings.region_id
    return {"regions": [
        {"region_id": rid, "name": name, "default": rid == default, "geo_lat": lat,
         "geo_long": lon} for rid, name, lat, lon in REGIONS
    ]}


@router.get("/api_keys", tags=["API Key"])
def list_api_keys(rt: RuntimeDep, caller: CallerDep) -> list[Json]:
    _personal(caller)
    with rt.store.lock:
        return [key_item(rt, k) for k in rt.store.world.keys.values()
                if k.kind == "personal" and not k.revoked]


@router.post("/api_keys", tags=["API Key"])
def create_api_key(body: ApiKeyCreate, rt: RuntimeDep, caller: CallerDep) -> Json:
    _personal(caller)
    with rt.store.lock:
        k = KeyRecord(id=rt.store.next_key_id(), key=ids.api_key(), name=body.key_name,
                      kind="personal", created_at=provision.now(rt))
        rt.store.add_key(k)
    rt.changed()
    return {"id": k.id, "key": k.key, "name": k.name, "created_at": k.created_at,
            "created_by": rt.store.world.user.id}


@router.delete("/api_keys/{key_id}", tags=["API Key"])
def revoke_api_key(key_id: int, rt: RuntimeDep, caller: CallerDep) -> Json:
    _personal(caller)
    with rt.store.lock:
        k = rt.store.world.keys.get(key_id)
        if k is None or k.kind != "personal" or k.revoked:
            raise not_found(f"API key {key_id}")
        rt.store.revoke_key(k)
        out = key_item(rt, k) | {"revoked": True, "created_by": rt.store.world.user.id}
    rt.changed()
    return out
