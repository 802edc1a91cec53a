"""The default world (orgs, keys, user) and credentials.json, written on first start."""

from __future__ import annotations

import json
from pathlib import Path

from neon_emulator.engine import ids
from neon_emulator.engine.clock import Clock, iso
from neon_emulator.settings import EmulatorSettings
from neon_emulator.store.persistence import write_atomic
from neon_emulator.store.records import KeyRecord, OrgRecord, UserRecord, World


def new_world(settings: EmulatorSettings, clock: Clock) -> World:
    now = iso(clock.now())
    world = World(user=UserRecord(id=ids.uuid4()))
    for oc in settings.orgs:
        oid = ids.org_id()
        world.orgs[oid] = OrgRecord(
            id=oid,
            alias=oc.alias,
            name=oc.name or oc.alias,
            handle=f"{oc.alias}-{oid[-8:]}",
            plan=oc.plan,
            limits=oc.limits,
            created_at=now,
            updated_at=now,
        )
        kid = world.next_key_id
        world.next_key_id += 1
        world.keys[kid] = KeyRecord(
            id=kid, key=oc.api_key or ids.api_key(), name=f"{oc.alias}-org-key",
            kind="org", org_id=oid, created_at=now,
        )
    kid = world.next_key_id
    world.next_key_id += 1
    world.keys[kid] = KeyRecord(
        id=kid, key=settings.personal_api_key or ids.api_key(), name="personal",
        kind="personal", created_at=now,
    )
    return world


def credentials(world: World) -> dict[str, object]:
    """The ARCHITECTURE.md credentials.json: the first personal key and one org key per alias."""
    personal = next(k for k in world.keys.values() if k.kind == "personal" and not k.revoked)
    orgs: dict[str, dict[str, str]] = {}
    for org in world.orgs.values():
        key = next(
            (k for k in world.keys.values()
             if k.kind == "org" and k.org_id == org.id and k.project_id is None
             and not k.revoked),
            None,
        )
        if key is not None:
            orgs[org.alias] = {"id": org.id, "api_key": key.key}
    return {"personal_api_key": personal.key, "orgs": orgs}


def write_credentials(path: Path, world: World) -> None:
    write_atomic(path, json.dumps(credentials(world), indent=2).encode())
    path.chmod(0o600)
