"""Fault injection: per-route error rate and status, latency, and "act, then drop".

A rule's `route` is an fnmatch pattern over "METHOD /path/template" (e.g.
"POST /projects", "* /projects/{project_id}/branches*"). Dropping the connection after the
handler acted reproduces the ambiguous create a client must reconcile (did it happen?).
"""

from __future__ import annotations

import fnmatch
import random
import threading
from dataclasses import dataclass

from neon_emulator.settings import FaultRule


@dataclass
class FaultDecision:
    latency_ms: int = 0
    status: int | None = None
    drop_after_act: bool = False


class Faults:
    def __init__(self, rules: list[FaultRule], seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = list(rules)
        self._fired: list[int] = [0] * len(rules)
        self._rng = random.Random(seed)

    @property
    def rules(self) -> list[FaultRule]:
        return list(self._rules)

    def replace(self, rules: list[FaultRule]) -> None:
        with self._lock:
            self._rules = list(rules)
            self._fired = [0] * len(rules)

    def decide(self, method: str, template: str) -> FaultDecision:
        target = f"{method} {template}"
        out = FaultDecision()
        with self._lock:
            for i, rule in enumerate(self._rules):
                if not fnmatch.fnmatchcase(target, rule.route):
                    continue
                if rule.times is not None and self._fired[i] >= rule.times:
                    continue
                fired = False
                if rule.latency_ms:
                    out.latency_ms += rule.latency_ms
                    fired = True
                if rule.error_rate > 0 and self._rng.random() < rule.error_rate:
                    if rule.drop_after_act:
                        out.drop_after_act = True
                    else:
                        out.status = out.status or rule.status
                    fired = True
                if fired:
                    self._fired[i] += 1
        return out
