"""The one rule that picks a tier's fleet store (fleet/store_choice.py): the stack config
chooses, the URL comes from the environment only, a URL never switches a files tier."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from neon_tenants.fleet.store_choice import (
    StoreConfigError,
    fleet_store,
    set_fleet_store,
    tier_store,
)

URL = {"NEON_TENANTS_DATABASE_URL": "postgresql://nt:s3cret@127.0.0.1:5432/fleet"}


def _stacks(tmp_path: Path, *, config: str | None, fleet: bool, tier: str = "free") -> Path:
    stacks = tmp_path / "stacks"
    (stacks / "fleets").mkdir(parents=True, exist_ok=True)
    if config is not None:
        line = f"  neon-tenants:fleetStore: {config}\n" if config else ""
        (stacks / f"Pulumi.{tier}.yaml").write_text(
            f"# the {tier} tier\nconfig:\n  neon-tenants:tier: {tier}\n{line}"
        )
    if fleet:
        (stacks / "fleets" / f"{tier}.yaml").write_text(f"tier: {tier}\nshards: 1\ntenants: []\n")
    return stacks


@pytest.mark.parametrize(
    ("config", "fleet", "env", "kind"),
    [
        ("postgres", True, URL, "postgres"),  # config wins over a fleet file
        ("files", False, URL, "files"),  # a URL never switches a files tier
        ("", True, URL, "files"),  # unset + fleet file: the file stays the truth
        ("", False, URL, "postgres"),  # unset, no fleet file, URL: the database
        ("", False, {}, "files"),  # unset, nothing: the embedded default
        (None, False, URL, "postgres"),  # no stack config file at all
    ],
)
def test_the_rule(
    tmp_path: Path, config: str | None, fleet: bool, env: dict[str, str], kind: str
) -> None:
    choice = tier_store(_stacks(tmp_path, config=config, fleet=fleet), "free", env)
    assert choice.kind == kind
    assert (choice.url is not None) == (kind == "postgres")
    if choice.url is not None:
        assert "s3cret" not in choice.why and "s3cret" not in choice.url.redacted


def test_postgres_without_the_url_names_the_variable_and_the_file(tmp_path: Path) -> None:
    stacks = _stacks(tmp_path, config="postgres", fleet=True)
    with pytest.raises(StoreConfigError) as info:
        tier_store(stacks, "free", {})
    text = str(info.value)
    assert "NEON_TENANTS_DATABASE_URL" in text and "Pulumi.free.yaml" in text
    assert "tier free" in text


def test_an_unknown_value_names_the_key_the_allowed_values_and_the_tier(tmp_path: Path) -> None:
    stacks = _stacks(tmp_path, config="mysql", fleet=False)
    with pytest.raises(StoreConfigError) as info:
        tier_store(stacks, "free", URL)
    text = str(info.value)
    assert "neon-tenants:fleetStore" in text and "files, postgres" in text
    assert "tier free" in text and "mysql" in text


def test_shard_stacks_that_disagree_are_refused(tmp_path: Path) -> None:
    stacks = _stacks(tmp_path, config="postgres", fleet=False)
    (stacks / "Pulumi.free-01.yaml").write_text("config:\n  neon-tenants:fleetStore: files\n")
    with pytest.raises(StoreConfigError, match="disagree"):
        tier_store(stacks, "free", URL)


def test_one_fleet_manager_one_store_mixed_tiers_are_refused(tmp_path: Path) -> None:
    stacks = _stacks(tmp_path, config="postgres", fleet=False)
    _stacks(tmp_path, config="files", fleet=True, tier="pro")
    with pytest.raises(StoreConfigError) as info:
        fleet_store(stacks, URL)
    assert "free: postgres" in str(info.value) and "pro: files" in str(info.value)
    assert fleet_store(tmp_path / "empty", URL).kind == "postgres"
    (stacks / "Pulumi.pro.yaml").unlink()  # pro now says nothing and has no fleet file
    (stacks / "fleets" / "pro.yaml").unlink()
    (stacks / "Pulumi.pro.yaml").write_text("config:\n  neon-tenants:tier: pro\n")
    assert fleet_store(stacks, URL).kind == "postgres"  # a tier that says nothing follows
    assert fleet_store(tmp_path / "empty", {}).kind == "files"


def test_set_fleet_store_keeps_comments_keys_and_salt(tmp_path: Path, repo_root: Path) -> None:
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    shutil.copy(repo_root / "stacks" / "Pulumi.free.yaml", stacks / "Pulumi.free.yaml")
    (stacks / "Pulumi.free-00.yaml").write_text("config:\n  neon-tenants:tier: free\n")
    before = yaml.safe_load((stacks / "Pulumi.free.yaml").read_text())
    written = set_fleet_store(stacks, "free", "postgres")
    assert [p.name for p in written] == ["Pulumi.free.yaml", "Pulumi.free-00.yaml"]
    after_text = (stacks / "Pulumi.free.yaml").read_text()
    after = yaml.safe_load(after_text)
    assert after["config"].pop("neon-tenants:fleetStore") == "postgres"
    assert after == before  # every other key and the encryptionsalt unchanged
    assert after_text.startswith("# Stack `free`")  # comments kept
    assert tier_store(stacks, "free", URL).kind == "postgres"
    set_fleet_store(stacks, "free", "files")  # and back: the line is replaced, not added
    assert after_text.count("fleetStore") == 1
    assert (stacks / "Pulumi.free.yaml").read_text().count("fleetStore") == 1
    assert tier_store(stacks, "free", URL).kind == "files"
    created = set_fleet_store(stacks, "pro", "postgres")  # no file yet: the tier's own
    assert [p.name for p in created] == ["Pulumi.pro.yaml"]
    assert tier_store(stacks, "pro", URL).kind == "postgres"


def test_doctor_reports_the_store_and_a_mixed_stacks_dir(tmp_path: Path) -> None:
    from neon_tenants.db.health import database_checks

    stacks = _stacks(tmp_path, config="postgres", fleet=True)
    env = {"NEON_TENANTS_DATABASE_URL": "postgresql://nt:s3cret@127.0.0.1:1/fleet"}
    store = next(c for c in database_checks(env, stacks) if c.name == "fleet store")
    assert store.ok and store.detail == "postgres (stacks/Pulumi.free.yaml)"
    _stacks(tmp_path, config="files", fleet=True, tier="pro")
    checks = database_checks(env, stacks)
    mixed = next(c for c in checks if c.name == "fleet store")
    assert not mixed.ok and "pro: files" in mixed.detail
    assert all("s3cret" not in c.detail for c in checks)
