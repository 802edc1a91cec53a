"""The running service behind `neon-tenants usage watch`: poll, raise, deliver, repeat.

A cycle is: read every tenant (poller.py), raise the events the readings justify once per
period (rules.py + the store), apply the `raise_quota` policy to newly suspended tenants
(suspension.py), run the cleanup step when one is configured (cleanup.py), deliver the outbox
(delivery.py), record the cycle. Cycles start every `interval_seconds`
(15 minutes by default and never less, Neon's refresh interval); a cycle that overruns
starts the next one at once rather than stacking them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from neon_tenants.automation._errors import FleetError
from neon_tenants.client.errors import NeonError
from neon_tenants.monitoring.delivery import Dispatcher
from neon_tenants.monitoring.models import CycleReport, Event
from neon_tenants.monitoring.poller import Poller
from neon_tenants.monitoring.readings import Reading
from neon_tenants.monitoring.rules import AlertRules, events_for
from neon_tenants.monitoring.store import UsageStore

CleanupStep = Callable[[list[Reading]], int]


class UsageService:
    def __init__(
        self,
        poller: Poller,
        store: UsageStore,
        dispatcher: Dispatcher,
        rules: AlertRules | None = None,
        *,
        cleanup: CleanupStep | None = None,
        on_cycle: Callable[[CycleReport], None] | None = None,
        on_error: Callable[[Exception], None] | None = None,
        on_suspended: Callable[[list[Event]], list[Event]] | None = None,
    ) -> None:
        self.poller = poller
        self.store = store
        self.dispatcher = dispatcher
        self.rules = rules or AlertRules()
        self.cleanup = cleanup
        self.on_cycle = on_cycle
        self.on_error = on_error
        self.on_suspended = on_suspended

    def run_once(self) -> CycleReport:
        readings, report = self.poller.cycle()
        new = self.store.raise_once(events_for(readings, self.rules))
        if self.on_suspended is not None:  # the raise_quota policy (suspension.py)
            new += self.store.raise_once(self.on_suspended(new))
        notices = self.cleanup(readings) if self.cleanup is not None else 0
        failures = self.dispatcher.deliver_pending()
        report = report.model_copy(
            update={"events": len(new) + notices, "webhook_failures": failures}
        )
        self.store.save_cycle(report)
        if self.on_cycle is not None:
            self.on_cycle(report)
        return report

    def run(
        self,
        *,
        cycles: int | None = None,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Until `stop` is set (or `cycles` have run); waits are interruptible by `stop`. A
        cycle that fails on the API (Neon down past the client's retries) or on reading the
        fleet (engine, state backend) is reported to `on_error` and the service goes on with
        the next cycle; events it had already raised stay in the outbox until delivered."""
        halt = stop or threading.Event()
        done = 0
        while not halt.is_set():
            started = clock()
            try:
                self.run_once()
            except (NeonError, FleetError) as exc:  # Neon, or the fleet's engine/state
                if self.on_error is None:
                    raise
                self.on_error(exc)
            done += 1
            if cycles is not None and done >= cycles:
                return
            rest = self.poller.config.interval_seconds - (clock() - started)
            if rest > 0:
                halt.wait(rest)
