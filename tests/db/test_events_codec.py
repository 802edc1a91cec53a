"""Progress events survive the trip through `nt_events` as the same typed values."""

from __future__ import annotations

import json

from neon_tenants.automation.events import ResourceStep, StackProgress
from neon_tenants.jobs._events import decode, encode


def test_events_round_trip_through_json_as_the_same_dataclasses() -> None:
    step = ResourceStep("free-00", "acme", "urn:pulumi:free-00::p::t::acme-project",
                        "pulumi-python:dynamic/neon:Snapshot", "create", "done")
    phase = StackProgress("free-00", "engine_started", "up")
    for event in (step, phase):
        assert decode(json.loads(json.dumps(encode(event)))) == event


def test_an_unknown_event_class_is_skipped_not_an_error() -> None:
    assert decode({"event": "FromANewerWorker", "stack": "free-00"}) is None
