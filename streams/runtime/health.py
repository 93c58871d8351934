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

Readiness (``/readyz``, 503 when not ready, the reasons under ``problems``): the
worker holds at least one partition of the predictions topic, has restored its
windows, and can reach both the database and the broker. It is not ready:

- before its first assignment, between a revocation and the next assignment (a
  rebalance), and while the group gives it no partition (more workers than
  partitions);
- **while the database cannot be reached**: from the first failed attempt of a
  store (the windows, a label path's checkpoint, or the checkpoints read when
  partitions are assigned) whose error a retry can get past
  (``store.errors.is_permanent`` false: a refused or timed-out connection, a
  server shutting down) until a store of the same thing lands. One failed attempt suffices, with
  no grace: the attempt itself already waited out the connection timeout, a
  store is retried within 4 s, so a one-off failure clears within seconds, and
  an orchestrator's probe has its own failure threshold to smooth over it. A
  worker with nothing to store makes no attempt, so it notices an outage at its
  next store (a checkpoint or a closed window);
- **while the broker cannot be reached**: from the first failed broker probe
  until the next one that succeeds. The ingest asks the broker for the
  predictions topic's metadata every 2 s through its consumer's client
  (``streams.app.worker.BROKER_PROBE_INTERVAL``), and a probe fails when no broker
  answers within 3 s (``BROKER_PROBE_TIMEOUT``) or every broker refuses. (A
  consumer cut off from its broker does not raise: its fetches just come back
  empty, like those of an idle topic.)

Both come back to 200 within seconds of the database or broker returning: the
next store attempt (at most 4 s apart) or the next probe (2 s apart) clears them.
Liveness is unchanged by either outage until a store has failed for
``worker.store_failure_timeout``: a worker waiting for its database or broker is
not stuck, and restarting it would not help. ``driftline_ready`` follows
readiness.

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
        # Stores failing with an error a retry can get past: what -> (since, error).
        self._unreachable: dict[str, tuple[float, str]] = {}
        self._broker_down: tuple[float, str] | None = None  # (since, why) while it is

    # ----- liveness --------------------------------------------------------------------
    def iteration(self, *, applied: bool, waiting: bool) -> None:
        """One iteration of the ingest loop completed: it ``applied`` records; work was
        ``waiting`` (lag, closed windows not stored, a store in flight) after it."""
        if applied or not waiting:
            self._progress_at = self._clock()

    def store_failed(self, what: str, transient: str | None = None) -> float:
        """A store of ``what`` failed; the seconds it has been failing (0 the first time).

        ``transient`` is the (masked) error when a retry can get past it: the database
        cannot be reached, and the worker is not ready until a store of ``what`` lands.
        """
        now = self._clock()
        since = self._failing_since.setdefault(what, now)
        if transient is not None:
            self._unreachable[what] = (self._unreachable.get(what, (now, ""))[0], transient)
        else:
            self._unreachable.pop(what, None)
        return now - since

    def store_ok(self, what: str) -> None:
        self._failing_since.pop(what, None)
        self._unreachable.pop(what, None)

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

    def broker_failed(self, why: str) -> bool:
        """A broker probe failed (``why``); True when the broker was reachable until now."""
        was_up = self._broker_down is None
        since = self._clock() if self._broker_down is None else self._broker_down[0]
        self._broker_down = (since, why)
        return was_up

    def broker_ok(self) -> float | None:
        """A broker probe succeeded; the seconds it was unreachable, None if it was not."""
        if self._broker_down is None:
            return None
        seconds = self._clock() - self._broker_down[0]
        self._broker_down = None
        return seconds

    @property
    def is_ready(self) -> bool:
        return (self._restored and bool(self._partitions) and not self._unreachable
                and self._broker_down is None)

    def problems(self) -> list[str]:
        """Why the database or the broker counts as unreachable (empty when neither)."""
        now = self._clock()
        found = [f"database unreachable: storing {what} failing for {now - since:.0f} s: "
                 f"{error}" for what, (since, error) in sorted(self._unreachable.items())]
        if self._broker_down is not None:
            since, why = self._broker_down
            found.append(f"broker unreachable for {now - since:.0f} s: {why}")
        return found

    def ready(self) -> tuple[bool, dict[str, Any]]:
        """(ready, the JSON body of ``/readyz``)."""
        return self.is_ready, {"ready": self.is_ready, "partitions": sorted(self._partitions),
                               "problems": self.problems()}
