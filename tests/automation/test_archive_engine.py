"""Archive before delete and restore-archive, through FleetManager, the real engine, the
pulumi-command plugin and the real-Postgres emulator (issue 12)."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from neon_tenants.archive import ArchiveSettings, read_manifest
from neon_tenants.automation import ArchiveFailed, FleetManager, InvalidRequest
from neon_tenants.client.errors import NotFound

from .conftest import Recorder, connect, make_manager, neon_client

pytestmark = [pytest.mark.engine, pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("archive")


@pytest.fixture(scope="module")
def fleet(emulator: Any, root: Path) -> Iterator[FleetManager]:
    settings = ArchiveSettings(dir=root / "archives")
    with make_manager(root / "ok", emulator, Recorder(), archive=settings) as fm:
        yield fm


def _rows(uri: str) -> list[tuple[int, str]]:
    with connect(uri) as db:
        return [(r[0], r[1]) for r in db.execute("select id, body from notes order by id")]


def _state_text(manager_root: Path) -> str:
    return "\n".join(p.read_text() for p in (manager_root / "state").rglob("*.json"))


def test_delete_archives_first_and_the_archive_restores_into_a_new_project(
    fleet: FleetManager, emulator: Any, root: Path
) -> None:
    tenant = "arch-free"
    conn = fleet.provision(tenant, "free")
    uri = conn.connection_uri.get_secret_value()
    with connect(uri) as db:
        db.execute("create table notes (id serial primary key, body text)")
        db.execute("insert into notes (body) select 'row ' || g from generate_series(1, 50) g")
    fleet.snapshot(tenant, "s1")  # free's one snapshot slot is taken: the archive needs none
    before = _rows(uri)

    fleet.delete(tenant)

    [manifest_path] = fleet.archives(tenant)
    manifest = read_manifest(manifest_path)
    assert (manifest.tenant, manifest.tier) == (tenant, "free")
    assert manifest.project_id == conn.project_id
    archive = manifest.archive_path(manifest_path)
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == manifest.sha256
    assert archive.stat().st_size == manifest.size_bytes > 0
    with neon_client(emulator) as client, pytest.raises(NotFound):
        client.org("free").get_project(conn.project_id)
    assert fleet.locate(tenant) is None

    restored = fleet.restore_archive(manifest_path, tenant="arch-free-back")
    assert restored.project_id != conn.project_id
    assert _rows(restored.connection_uri.get_secret_value()) == before

    # no connection string in plaintext in the state, nor in the command's recorded outputs
    state = _state_text(root / "ok")
    for secret in (uri, urlsplit(uri).password or "?", restored.connection_uri.get_secret_value()):
        assert secret not in state
    commands = [
        r
        for d in (json.loads(p.read_text()) for p in (root / "ok" / "state").rglob("*.json"))
        for r in (d.get("checkpoint", {}).get("latest", {}).get("resources") or [])
        if r.get("type") == "command:local:Command"
    ]
    assert commands, "the restored tenant's archive step is in the state"
    assert all("ciphertext" in json.dumps(c["inputs"]["environment"]) for c in commands)


def test_a_failing_archive_keeps_the_project_and_says_why(emulator: Any, root: Path) -> None:
    failing = ArchiveSettings(
        dir=root / "archives-failing", command="echo 'bucket s3://x unreachable' >&2; exit 3"
    )
    with make_manager(root / "failing", emulator, Recorder(), archive=failing) as fm:
        tenant = "arch-kept"
        conn = fm.provision(tenant, "pro")
        uri = conn.connection_uri.get_secret_value()
        with connect(uri) as db:
            db.execute("create table notes (id serial primary key, body text)")
            db.execute("insert into notes (body) values ('kept')")
        fm.snapshot(tenant, "keep-me")

        with pytest.raises(ArchiveFailed) as err:
            fm.delete(tenant)

        assert "bucket s3://x unreachable" in str(err.value)
        assert uri not in str(err.value)
        with neon_client(emulator) as client:
            assert client.org("paid").get_project(conn.project_id).id == conn.project_id
            # the archive runs first: nothing else of the tenant was deleted either
            snaps = [s.name for s in client.org("paid").list_snapshots(conn.project_id)]
            assert snaps == ["keep-me"]
        assert fm.locate(tenant) is not None  # back in its fleet
        assert fm.show(tenant).project_id == conn.project_id
        assert _rows(uri) == [(1, "kept")]
        assert fm.archives(tenant) == []
        assert fm.preview(["pro"]).exit_code == 0  # fleet and state agree again


def test_restore_archive_refuses_a_tampered_archive_before_creating_anything(
    fleet: FleetManager, tmp_path: Path
) -> None:
    [original] = fleet.archives("arch-free")  # from the first test of this module
    manifest = read_manifest(original)
    copy = tmp_path / original.name
    shutil.copy(original, copy)
    data = bytearray(manifest.archive_path(original).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / manifest.file).write_bytes(bytes(data))

    with pytest.raises(InvalidRequest, match="does not match its manifest: sha256"):
        fleet.restore_archive(copy, tenant="arch-tampered")
    assert fleet.locate("arch-tampered") is None
