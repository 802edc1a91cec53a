"""What the pulumi-command steps of issue 12 cost, side by side in one run on the real-Postgres
emulator: an unchanged `up` with and without the per-tenant Commands (archive + migrate), a
delete with and without its archive, the archive and restore themselves, checkpoint, rollback
and a rollout per tenant.

Run: `source scripts/env.sh && .venv/bin/python -m benchmarks.bench_command_steps [--n 3]`.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from neon_emulator.testing import EmulatorProcess
from neon_tenants.archive import ArchiveSettings, read_manifest, restore_dump
from neon_tenants.automation import FleetManager, ProgressCallback

from ._fleet_harness import line, timed

MIGRATE = (
    'psql "$DATABASE_URL" -q -v ON_ERROR_STOP=1 '
    '-c "create table if not exists migrations_run (revision text)" '
    "-c \"insert into migrations_run values ('$NEON_TENANTS_APP_REVISION')\""
)


def manager(
    root: Path, emu: Any, archive: ArchiveSettings | bool, on_event: ProgressCallback | None = None
) -> FleetManager:
    """A manager with its own stacks, work dir, state and locks under `root` (bench_rollout too)."""
    return FleetManager(
        root / "stacks",
        work_dir=root / "work",
        backend_url=f"file://{root / 'state'}",
        lock_dir=root / "locks",
        neon_env=emu.client_env,
        archive=archive,
        on_event=on_event,
    )


def _seed(fm: FleetManager, ids: list[str], migrate: bool) -> None:
    if migrate:
        fm._edit_fleet(
            "free",
            lambda f: f.model_copy(update={"migration_command": MIGRATE, "app_revision": "r1"}),
        )
    for t in ids:
        fm.provision(t, "free")
        uri = fm.show(t).connection_uri.get_secret_value()
        import psycopg

        with psycopg.connect(uri, autocommit=True) as db:
            db.execute("create table if not exists notes (body text)")
            db.execute("insert into notes select 'row ' || g from generate_series(1, 1000) g")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=3, help="tenants per fleet")
    parser.add_argument("--samples", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config = {"rate_limits": {"enabled": False}}
        with EmulatorProcess(root / "emu", config=config) as emu:
            plain = manager(root / "plain", emu, False)
            full = manager(root / "full", emu, ArchiveSettings(dir=root / "archives"))
            _seed(plain, [f"p-{i}" for i in range(args.n)], migrate=False)
            _seed(full, [f"c-{i}" for i in range(args.n)], migrate=True)

            base = line(
                "up_unchanged_no_commands",
                [timed(lambda: plain.up("free")) for _ in range(args.samples)],
                n_tenants=args.n,
            )
            line(
                "up_unchanged_with_archive_and_migrate_commands",
                [timed(lambda: full.up("free")) for _ in range(args.samples)],
                base,
                n_tenants=args.n,
            )

            cps = [timed(lambda i=i: full.checkpoint("c-0", f"cp-{i}")) for i in range(2)]
            line("checkpoint_snapshot_and_record", cps)
            line("rollback_restore_and_redeclare", [timed(lambda: full.rollback("c-0", "cp-1"))])

            total = timed(lambda: full.rollout("free", "r2", canary=1))
            line("rollout_per_tenant_checkpoint_and_migrate", [total / args.n], n_tenants=args.n)

            del_plain = line("delete_without_archive", [timed(lambda: plain.delete("p-0"))])
            line("delete_with_archive", [timed(lambda: full.delete("c-1"))], del_plain)
            [manifest] = full.archives("c-1")
            size = read_manifest(manifest).size_bytes
            target = full.show("c-2").connection_uri.get_secret_value()
            import psycopg

            with psycopg.connect(target, autocommit=True) as db:
                db.execute("drop table notes; drop table migrations_run")
            line(
                "pg_restore_archive_into_a_project",
                [timed(lambda: restore_dump(manifest, target))],
                archive_bytes=size,
            )
            plain.close()
            full.close()


if __name__ == "__main__":
    main()
