"""The registry watcher: each registered version's reference, and the champion's.

Every ``poll_interval`` the watcher reads each watched registered model
(``registry.mlflow.models``, or every one) and:

- for each version whose reference it has not set yet, downloads the version's
  reference file (``MlflowReader.fetch_reference``), profiles it as ``driftline
  reference set FILE`` does (``profile_file``) and stores it as the reference of
  (model id, version number);
- when the champion alias points at a version other than the one the model-wide
  reference (version ``''``, what versions without their own are compared with)
  was last set from, sets the model-wide reference from that version's file.

Decisions:

- Every reference is set with ``set_reference`` as actor ``mlflow``, its audit row's
  target naming the registered model, its version and page. That trail is the
  watcher's only memory (``store.registry_links``): a restart sets nothing twice,
  and a reference a person set later is left alone.
- A version without a readable reference file is logged once per process (a
  warning with the reasons) and tried again at each poll, since a file may be
  logged to its run later; the other versions go on.
- A failed poll (server unreachable, or the database; anything else too, with its
  traceback) is logged once when the outage starts and once when it ends;
  meanwhile polls are retried after 1 s, 2 s, 4 s ... up to the larger of
  ``poll_interval`` and ``MAX_BACKOFF``.
- One watcher per registry: two would race to set the same references (both would
  succeed; the trail would show two rows).
"""

from __future__ import annotations

import logging
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from alerting.config_values import mask_passwords
from detectors import ReferenceProfile
from store.reference_writes import set_reference
from store.registry_links import RegistryMark, registry_marks
from streams.batch.files import InputError
from streams.batch.profiling import profile_file
from streams.config.registry import MlflowSettings
from streams.registry.mlflow_reader import FetchResult, RegisteredVersion, RegistryUnavailableError

ACTOR = "mlflow"
REGISTRY = "mlflow"
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 60.0

log = logging.getLogger("driftline.registry")


class Reader(Protocol):
    """What the watcher reads from a registry (``MlflowReader``)."""

    tracking_uri: str

    def model_names(self) -> list[str]: ...
    def versions(self, name: str) -> list[RegisteredVersion]: ...
    def alias_version(self, name: str, alias: str) -> str | None: ...
    def version(self, name: str, version: str) -> RegisteredVersion: ...
    def fetch_reference(self, version: RegisteredVersion, into: Path) -> FetchResult: ...


@dataclass
class PollResult:
    """What one poll set: (model id, model version, registered model, version) each."""

    set: list[tuple[str, str, str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def backoff_delay(failures: int, poll_interval: float) -> float:
    """Seconds to wait after ``failures`` failed polls in a row (1 s, 2 s, 4 s ...)."""
    cap = max(poll_interval, MAX_BACKOFF)
    return float(min(cap, FIRST_BACKOFF * 2 ** max(failures - 1, 0)))


class RegistryWatcher:
    """Sets references from one MLflow registry (module docstring)."""

    def __init__(self, settings: MlflowSettings, engine: Engine, reader: Reader) -> None:
        self.settings = settings
        self.engine = engine
        self.reader = reader
        self._warned: set[tuple[str, str, str]] = set()
        self._failures = 0

    def poll_once(self) -> PollResult:
        """One pass over the watched models; raises ``RegistryUnavailableError`` or
        ``SQLAlchemyError`` when the registry or the database fails."""
        result = PollResult()
        names = sorted(self.settings.models) or self.reader.model_names()
        for name in names:
            model_id = self.settings.model_id(name)
            if model_id is not None:
                self._poll_model(name, model_id, result)
        return result

    def _poll_model(self, name: str, model_id: str, result: PollResult) -> None:
        with self.engine.connect() as conn:
            marks = registry_marks(conn, ACTOR, model_id)
        done = {(m.model_version, m.link.registered_model, m.link.registered_version)
                for m in marks}
        profiles: dict[str, tuple[ReferenceProfile, str, str] | None] = {}
        for version in self.reader.versions(name):
            if (version.version, name, version.version) in done:
                continue
            found = self._profile(version, profiles)
            if found is None:
                result.skipped.append((name, version.version))
                continue
            self._store(model_id, version.version, version, found)
            result.set.append((model_id, version.version, name, version.version))
        champion = self.reader.alias_version(name, self.settings.champion_alias)
        if champion is None or _champion_is(marks, name, champion):
            return
        version = self.reader.version(name, champion)
        found = self._profile(version, profiles)
        if found is None:
            result.skipped.append((name, champion))
            return
        self._store(model_id, "", version, found, alias=self.settings.champion_alias)
        result.set.append((model_id, "", name, champion))

    def _profile(self, version: RegisteredVersion,
                 profiles: dict[str, tuple[ReferenceProfile, str, str] | None]
                 ) -> tuple[ReferenceProfile, str, str] | None:
        """The version's profile, its file's origin and run (once per poll), or None."""
        if version.version in profiles:
            return profiles[version.version]
        profiles[version.version] = None
        with tempfile.TemporaryDirectory(prefix="driftline-registry-") as folder:
            fetched = self.reader.fetch_reference(version, Path(folder))
            if fetched.found is None:
                self._warn_once(version, "no-file", "has no reference dataset ("
                                + "; ".join(fetched.reasons) + "): its reference is not set")
                return None
            try:
                profile = profile_file(fetched.found.path)
            except (InputError, ValueError) as exc:
                self._warn_once(version, "bad-file", f"reference {fetched.found.origin} cannot "
                                f"be profiled ({exc}): its reference is not set")
                return None
        profiles[version.version] = (profile, fetched.found.origin, fetched.found.run_id)
        return profiles[version.version]

    def _warn_once(self, version: RegisteredVersion, kind: str, text: str) -> None:
        key = (version.name, version.version, kind)
        if key not in self._warned:
            self._warned.add(key)
            log.warning("registry: %s version %s %s", version.name, version.version, text)

    def _store(self, model_id: str, model_version: str, version: RegisteredVersion,
               found: tuple[ReferenceProfile, str, str], alias: str | None = None) -> None:
        profile, origin, run_id = found
        target: dict[str, Any] = {
            "registry": REGISTRY, "registered_model": version.name,
            "registered_version": version.version, "run_id": run_id, "dataset": origin,
            "url": self.settings.version_url(version.name, version.version)}
        if alias is not None:
            target["alias"] = alias
        with self.engine.begin() as conn:
            set_reference(conn, ACTOR, model_id, model_version, profile, "file", target=target)
        scope = f"version {model_version}" if model_version else f"every version ({alias})"
        log.info("registry: set the reference of %s %s from %s version %s (%s): %d columns, "
                 "%d rows", model_id, scope, version.name, version.version, origin,
                 len(profile.columns), profile.n_rows)

    def step(self) -> float:
        """One poll, with the outage logging; the seconds to wait before the next."""
        try:
            self.poll_once()
        except Exception as exc:  # the watcher outlives any one failed poll
            if self._failures == 0:
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                expected = isinstance(exc, RegistryUnavailableError | SQLAlchemyError)
                log.warning("registry: poll of %s failed (%s); retrying with backoff",
                            mask_passwords(self.reader.tracking_uri), mask_passwords(first),
                            exc_info=not expected)
            self._failures += 1
            return backoff_delay(self._failures, self.settings.poll_interval)
        if self._failures:
            log.info("registry: %s answers again after %d failed polls",
                     mask_passwords(self.reader.tracking_uri), self._failures)
            self._failures = 0
        return self.settings.poll_interval

    def run(self, stop: threading.Event) -> None:
        """Poll until ``stop`` is set."""
        while not stop.is_set():
            stop.wait(self.step())


def _champion_is(marks: list[RegistryMark], name: str, version: str) -> bool:
    """Whether the newest model-wide reference set from the registry is ``version``'s."""
    for mark in marks:
        if mark.model_version == "":
            return (mark.link.registered_model, mark.link.registered_version) == (name, version)
    return False
