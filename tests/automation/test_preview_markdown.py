"""Fleet preview rendering from engine events (recorded shape of ResourcePreEvent JSON)."""

from __future__ import annotations

import json
from typing import Any

from pulumi.automation import EngineEvent

from neon_tenants.automation.preview import (
    EXIT_CHANGES,
    EXIT_NO_CHANGES,
    PlannedStep,
    dumps,
    fleet_diff,
    step_from_event,
)

COMP = "neon-tenants:index:TenantDatabase"
PROJ = "pulumi-python:dynamic/neon:NeonTenantProject"
QUOTA = "pulumi-python:dynamic/neon:Quota"


def urn(stack: str, tenant: str, child: str | None = None, ctype: str = PROJ) -> str:
    base = f"urn:pulumi:{stack}::neon-tenants::"
    if child is None:
        return f"{base}{COMP}::{tenant}"
    return f"{base}{COMP}${ctype}::{tenant}-{child}"


def parent_of(u: str) -> str | None:
    """What the engine reports as a child's parent: its tenant's component."""
    qualified = u.split("::")[2]
    if not qualified.startswith(COMP + "$"):
        return None
    stack = u.split("::")[0].removeprefix("urn:pulumi:")
    return f"urn:pulumi:{stack}::neon-tenants::{COMP}::{u.split('::')[-1].split('-')[0]}"


def pre_event(
    op: str,
    u: str,
    *,
    diffs: list[str] | None = None,
    old: Any = None,
    new: Any = None,
    parent: str | None = None,
    old_outputs: Any = None,
) -> EngineEvent:
    meta: dict[str, Any] = {
        "op": op,
        "urn": u,
        "type": u.split("::")[2].split("$")[-1],
        "provider": "",
    }
    parent = parent or parent_of(u)
    side = {"urn": u, "type": meta["type"], **({"parent": parent} if parent else {})}
    if old is not None or old_outputs is not None or op == "delete":
        meta["old"] = {**side, "inputs": old or {}, "outputs": old_outputs or {}}
    if new is not None or op != "delete":
        meta["new"] = {**side, "inputs": new or {}}
    if diffs is not None:
        meta["diffs"] = diffs
        meta["detailedDiff"] = {d: {"diffKind": "update", "inputDiff": True} for d in diffs}
    return EngineEvent.from_json(
        {"sequence": 1, "timestamp": 0, "resourcePreEvent": {"metadata": meta}}
    )


def steps(stack: str, tier: str, events: list[EngineEvent]) -> list[PlannedStep]:
    out = [step_from_event(stack, tier, e) for e in events]
    return [s for s in out if s is not None]


def recorded_change() -> list[PlannedStep]:
    """free-00 gains `newco` and loses `bob` and `erin`; `erin` reappears in pro adopting her
    project (an in-place transfer), `bob` reappears in pro WITHOUT adopting his (a new empty
    project: his data would be deleted); `carol` gets a bigger quota and `dave`'s project is
    replaced (region change)."""
    free = [
        pre_event("delete", urn("free-00", "erin")),
        pre_event(
            "delete",
            urn("free-00", "erin", "project"),
            old={"tier": "free"},
            old_outputs={"project_id": "p-erin"},
        ),
        pre_event(
            "same", "urn:pulumi:free-00::neon-tenants::pulumi:pulumi:Stack::neon-tenants-free-00"
        ),
        pre_event("create", urn("free-00", "newco")),
        pre_event("create", urn("free-00", "newco", "project"), new={"tier": "free"}),
        pre_event("delete", urn("free-00", "bob")),
        pre_event(
            "delete",
            urn("free-00", "bob", "project"),
            old={"tier": "free"},
            old_outputs={"project_id": "p-bob"},
        ),
        pre_event("same", urn("free-00", "alice")),
        pre_event("same", urn("free-00", "alice", "project")),
        pre_event(
            "update",
            urn("free-00", "carol", "quota", QUOTA),
            diffs=["active_time_seconds"],
            old={"active_time_seconds": 360000, "__provider": "x"},
            new={"active_time_seconds": 720000, "__provider": "x"},
        ),
        pre_event(
            "replace",
            urn("free-00", "dave", "project"),
            diffs=["region_id"],
            old={"region_id": "aws-us-east-2"},
            new={"region_id": "aws-eu-central-1"},
        ),
        pre_event(
            "create-replacement",
            urn("free-00", "dave", "project"),
            diffs=["region_id"],
            old={"region_id": "aws-us-east-2"},
            new={"region_id": "aws-eu-central-1"},
        ),
    ]
    pro = [
        pre_event("create", urn("pro", "bob")),
        pre_event("create", urn("pro", "bob", "project"), new={"tier": "pro", "org": "paid"}),
        pre_event("create", urn("pro", "erin")),
        pre_event(
            "create",
            urn("pro", "erin", "project"),
            new={"tier": "pro", "org": "paid", "adopt_project_id": "p-erin"},
        ),
    ]
    return steps("free-00", "free", free) + steps("pro", "pro", pro)


def test_fleet_diff_calls_a_move_same_project_only_for_an_in_place_transfer() -> None:
    diff = fleet_diff(["free-00", "pro"], recorded_change())
    assert [t.tenant for t in diff.of_kind("added")] == ["newco"]
    assert diff.of_kind("removed") == []
    assert [(m.tenant, m.from_tier, m.to_tier) for m in diff.transfers] == [
        ("erin", "free", "pro")
    ]
    # bob's entry does not adopt his project: up creates a new one and deletes the old
    assert [(m.tenant, m.same_project) for m in diff.data_losing] == [("bob", False)]
    updated = {t.tenant: t for t in diff.of_kind("updated")}
    assert set(updated) == {"carol", "dave"}
    change = updated["carol"].changes[0]
    assert (change.resource, change.key, change.old, change.new) == (
        "quota",
        "active_time_seconds",
        360000,
        720000,
    )
    assert updated["dave"].replaces == ["project"]
    assert diff.exit_code == EXIT_CHANGES


def test_markdown_shows_a_remove_plus_add_as_a_data_losing_replacement_first() -> None:
    md = fleet_diff(["free-00", "pro"], recorded_change()).to_markdown()
    assert "**1 added, 0 removed, 1 moved, 1 replaced across tiers, 2 updated**" in md
    assert "> **Replacements**" in md and "`dave` (`free-00`): project" in md
    assert "| moved | `erin` | free → pro | `free-00` → `pro` |" in md
    assert "| moved | `bob`" not in md
    assert "`bob` (`free-00` → `pro`): project: a NEW EMPTY project" in md
    assert "| **replaced (data loss)** | `bob` | free → pro |" in md
    # the data-losing replacement is the first thing a reviewer reads
    assert md.index("`bob`") < md.index("`dave`") < md.index("| change |")
    assert md.index("replaced (data loss)") < md.index("| moved |")
    assert "quota.active_time_seconds: `360000` → `720000`" in md
    assert "| **replaced** | `dave` |" in md
    assert "__provider" not in md
    # a reviewer reads replacements before the table
    assert md.index("Replacements") < md.index("| change |")


def test_no_change_preview_exits_zero_and_says_so() -> None:
    events = [pre_event("same", urn("pro", "x")), pre_event("same", urn("pro", "x", "project"))]
    diff = fleet_diff(["pro"], steps("pro", "pro", events))
    assert not diff.has_changes and diff.exit_code == EXIT_NO_CHANGES
    assert "no changes" in diff.to_markdown()


def test_removal_without_matching_add_is_a_removal() -> None:
    events = [
        pre_event("delete", urn("pro", "gone")),
        pre_event("delete", urn("pro", "gone", "project")),
    ]
    diff = fleet_diff(["pro"], steps("pro", "pro", events))
    assert [t.tenant for t in diff.of_kind("removed")] == ["gone"]
    assert "| **removed** | `gone` |" in diff.to_markdown()


def test_json_has_the_same_content_and_masks_uris() -> None:
    extra = steps(
        "pro",
        "pro",
        [
            pre_event(
                "update",
                urn("pro", "eve", "project"),
                diffs=["connection_uri"],
                old={"connection_uri": "postgresql://u:oldpass@h/db"},
                new={"connection_uri": "postgresql://u:newpass@h/db"},
            )
        ],
    )
    data = json.loads(dumps(fleet_diff(["free-00", "pro"], recorded_change() + extra)))
    assert data["has_changes"] is True
    assert [a["tenant"] for a in data["added"]] == ["newco"]
    assert [m["tenant"] for m in data["moved"]] == ["erin"]
    assert [m["tenant"] for m in data["replaced_across_tiers"]] == ["bob"]
    assert data["replaces"] == [
        {"tenant": "dave", "stack": "free-00", "resources": ["project"]},
        {"tenant": "bob", "stack": "pro", "resources": ["project"], "data_loss": True},
    ]
    text = json.dumps(data)
    assert "oldpass" not in text and "newpass" not in text


def test_preview_lists_the_tenants_that_would_migrate_from_and_to_revision() -> None:
    cmd = "command:local:Command"
    events = [
        pre_event(
            "replace",
            urn("free", "amy", "migrate", cmd),
            diffs=["triggers"],
            old={"triggers": ["r1"], "create": "./migrate"},
            new={"triggers": ["r2"], "create": "./migrate"},
        ),
        pre_event(
            "create-replacement",
            urn("free", "amy", "migrate", cmd),
            old={"triggers": ["r1"]},
            new={"triggers": ["r2"]},
        ),
        pre_event("create", urn("free", "ben"), new={}),
        pre_event("create", urn("free", "ben", "migrate", cmd), new={"triggers": ["r2"]}),
        pre_event(
            "same",
            urn("free", "cal", "migrate", cmd),
            old={"triggers": ["r2"]},
            new={"triggers": ["r2"]},
        ),
    ]
    diff = fleet_diff(["free"], steps("free", "free", events))
    assert [(m.tenant, m.from_revision, m.to_revision) for m in diff.migrations] == [
        ("amy", "r1", "r2"),
        ("ben", None, "r2"),
    ]
    md = diff.to_markdown()
    assert "- `amy` (free, `free`): `r1` → `r2`" in md
    assert "- `ben` (free, `free`): – → `r2`" in md
    assert "cal" not in md
    assert "Replacements" not in md  # a new revision is a migration, not a lost database
    assert json.loads(dumps(diff))["migrations"][0]["to_revision"] == "r2"
