"""How a rollout splits a tier into waves, and its bad input refused before any write (issue 12).
No engine: the waves are pure, and every rule runs before the store or Neon is touched."""

from __future__ import annotations

from pathlib import Path

import pytest

from neon_tenants.automation import FleetManager, InvalidRequest
from neon_tenants.automation._rollout import rollout_waves
from neon_tenants.fleet import FleetSpec, TenantSpec, save_fleet
from neon_tenants.fleet.sharding import shard_of, stack_name


def _fleet(n: int, shards: int) -> FleetSpec:
    return FleetSpec(tier="pro", shards=shards,
                     tenants=tuple(TenantSpec(id=f"t-{i:02d}") for i in range(n)))


def test_canaries_first_then_each_shard_in_bounded_waves_of_one_stack() -> None:
    fleet = _fleet(23, 3)
    waves = rollout_waves(fleet, canary=4, batch=5)
    ids = sorted(t.id for t in fleet.tenants)
    # every tenant exactly once, canaries (the first 4 ids) before all others
    flat = [t for w in waves for t in w.tenants]
    assert sorted(flat) == ids and len(flat) == len(set(flat))
    assert set(flat[:4]) == set(ids[:4])
    for wave in waves:
        assert 1 <= len(wave.tenants) <= 5
        assert {shard_of(t, 3) for t in wave.tenants} == {wave.shard}  # one stack per wave
        assert wave.stack == stack_name("pro", wave.shard, 3)
    # after the canaries, shard by shard in order, ids sorted within a shard
    rest = [w for w in waves if not set(w.tenants) & set(ids[:4])]
    assert [w.shard for w in rest] == sorted(w.shard for w in rest)
    for shard in {w.shard for w in rest}:
        mine = [t for w in rest if w.shard == shard for t in w.tenants]
        assert mine == sorted(t for t in ids[4:] if shard_of(t, 3) == shard)


def test_one_shard_one_canary_makes_two_waves_and_batch_one_a_wave_per_tenant() -> None:
    fleet = _fleet(12, 1)
    assert [len(w.tenants) for w in rollout_waves(fleet, canary=1, batch=50)] == [1, 11]
    assert [len(w.tenants) for w in rollout_waves(fleet, canary=0, batch=5)] == [5, 5, 2]
    assert len(rollout_waves(fleet, canary=1, batch=1)) == 12
    assert all(w.stack == "pro" and w.shard is None for w in rollout_waves(fleet, 1, 4))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"revision": "Bad Rev!"}, "revision"), ({"canary": -1}, "canary"), ({"batch": 0}, "batch")],
)
def test_bad_rollout_input_is_refused_before_anything_is_written(
    tmp_path: Path, kwargs: dict[str, object], field: str
) -> None:
    fm = FleetManager(tmp_path / "stacks", work_dir=tmp_path / "work",
                      backend_url=f"file://{tmp_path / 'state'}", archive=False)
    save_fleet(fm.fleet_path("pro"), FleetSpec(tier="pro", tenants=(TenantSpec(id="ta"),),
                                               app_revision="r1", migration_command="true"))
    before = fm.fleet_path("pro").read_bytes()
    args: dict[str, object] = {"revision": "r2", **kwargs}
    with pytest.raises(InvalidRequest) as err:
        fm.rollout("pro", str(args.pop("revision")), **args)  # type: ignore[arg-type]
    assert err.value.details.get("field") == field and err.value.details.get("tier") == "pro"
    assert field in str(err.value) and "pro" in str(err.value)
    assert fm.fleet_path("pro").read_bytes() == before
    assert not (tmp_path / "state").exists() or not any((tmp_path / "state").rglob("*.json"))
