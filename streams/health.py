"""What ``/healthz`` and ``/readyz`` answer: the worker's liveness and readiness.

Liveness (``/healthz``, 503 when it fails) — the worker is stuck when either:

- **the ingest made no progress** for longer than ``worker.stall_timeout``
  (default 2 minutes). The ingest loop reports every iteration it completes; an
  iteration is progress when it applied records, or when it found no work
  waiting (no consumer lag on its partitions, no closed window waiting for a
  store, no store in flight). So a loop that hangs (no iteration completes) and a
  loop that turns without applying anything while there is lag or pending work
  both fail, while an idle worker with nothing to read stays healthy.
- **a store has been failing** for longer than ``worker.store_failure_timeout``
  (default 5 minutes): every attempt of some SQL write (the windows, or a label
  path's checkpoint) failed since the first failure that long ago. A store that
  lands clears it.

Readiness (``/readyz``, 503 when not ready): the worker holds at least one
partition of the predictions topic and has restored its windows. It is not ready
before its first assignment, between a revocation and the next assignment (a
rebalance), and while the group gives it no partition (more workers than
partitions). ``driftline_worker_ready`` follows the same rule.

Times are of ``clock`` (monotonic seconds); the methods are called on the event
loop, except the store ones, which may be called from any thread (each is one
dictionary update).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any


class Health:
    """Liveness and readiness of one worker (module docstring)."""

    def __init__(self, stall_timeout: float, store_failure_timeout: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stall_timeout = stall_timeout
        self.store_failure_timeout = store_failure_timeout
        self._clock = clock
        self._progress_at = clock()
        self._failing_since: dict[str, float] = {}
        self._partitions: frozenset[int] = frozenset()
        self._restored = False

    # ----- liveness --------------------------------------------------------------------
    def iteration(self, *, applied: bool, waiting: bool) -> None:
        """One iteration of the ingest loop completed: it ``applied`` records; work was
        ``waiting`` (lag, closed windows not stored, a store in flight) after it."""
        if applied or not waiting:
            self._progress_at = self._clock()

    def store_failed(self, what: str) -> float:
        """A store of ``what`` failed; the seconds it has been failing (0 the first time)."""
        now = self._clock()
        since = self._failing_since.setdefault(what, now)
        return now - since

    def store_ok(self, what: str) -> None:
        self._failing_since.pop(what, None)

    def live(self) -> tuple[bool, dict[str, Any]]:
        """(healthy, the JSON body of ``/healthz``)."""
        now = self._clock()
        idle = now - self._progress_at
        failing = {what: now - since for what, since in self._failing_since.items()}
        problems = []
        if idle > self.stall_timeout:
            problems.append(f"no ingest progress for {idle:.0f} s "
                            f"(limit {self.stall_timeout:g} s)")
        problems += [f"storing {what} failing for {seconds:.0f} s "
                     f"(limit {self.store_failure_timeout:g} s)"
                     for what, seconds in sorted(failing.items())
                     if seconds > self.store_failure_timeout]
        body: dict[str, Any] = {
            "status": "stuck" if problems else "ok", "problems": problems,
            "seconds_since_progress": round(idle, 3),
            "stores_failing": {what: round(s, 3) for what, s in sorted(failing.items())}}
        return not problems, body

    # ----- readiness -------------------------------------------------------------------
    def assigned(self, partitions: Iterable[int]) -> None:
        """The group's assignment was restored: these partitions are now held."""
        self._partitions = self._partitions | frozenset(partitions)
        self._restored = True

    def revoked(self, partitions: Iterable[int]) -> None:
        """These partitions were taken away (a rebalance or stop)."""
        self._partitions = self._partitions - frozenset(partitions)

    @property
    def partitions(self) -> frozenset[int]:
        return self._partitions

    @property
    def is_ready(self) -> bool:
        return self._restored and bool(self._partitions)

    def ready(self) -> tuple[bool, dict[str, Any]]:
        """(ready, the JSON body of ``/readyz``)."""
        return self.is_ready, {"ready": self.is_ready, "partitions": sorted(self._partitions)}
