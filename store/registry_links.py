"""What a model registry told driftline, read back from the audit trail.

``driftline registry watch`` sets a reference with ``set_reference`` and records in
its audit row's ``target`` the registered model it came from::

    {"registry": "mlflow", "registered_model": "fraud-classifier",
     "registered_version": "2", "url": "http://mlflow:5000/#/models/...", ...}

Decisions:

- The trail is the watcher's memory: a version whose reference the registry
  actor has set is done, so a restarted watcher does not set it again, and no
  state lives in a local file. A later ``driftline reference set`` by a person
  is not undone, since the registry's row is still there.
- The champion (the model-wide reference, version ``''``) is current when the
  newest row the registry actor wrote for it names the champion's version.
- ``registry_link`` gives alerts and retrain requests the registry's page of a
  (model, version): the newest registry row of that exact version.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Connection

from store.tables import audit

ACTION = "reference.set"


@dataclass(frozen=True)
class RegistryLink:
    """A driftline (model, version) as a registry knows it."""

    registry: str
    registered_model: str
    registered_version: str
    url: str | None


@dataclass(frozen=True)
class RegistryMark:
    """One reference a registry actor set: on which (model, version), from what."""

    model_id: str
    model_version: str
    link: RegistryLink


def _link(target: object) -> RegistryLink | None:
    if not isinstance(target, dict):
        return None
    fields = (target.get("registry"), target.get("registered_model"),
              target.get("registered_version"))
    if not all(isinstance(value, str) for value in fields):
        return None
    url = target.get("url")
    return RegistryLink(str(fields[0]), str(fields[1]), str(fields[2]),
                        url if isinstance(url, str) else None)


def _rows(conn: Connection, model_id: str, actor: str | None) -> Iterator[RegistryMark]:
    """The registry rows of ``model_id`` (of ``actor`` when given), newest first."""
    query = (select(audit.c.model_version, audit.c.target)
             .where(audit.c.action == ACTION, audit.c.model_id == model_id)
             .order_by(audit.c.id.desc()))
    if actor is not None:
        query = query.where(audit.c.actor == actor)
    for version, target in conn.execute(query):
        link = _link(target)
        if link is not None:
            yield RegistryMark(model_id, version or "", link)


def link_fields(link: RegistryLink) -> dict[str, str | None]:
    """A link as alerts and retrain requests carry it (``AlertEvent.registry``)."""
    return {"registry": link.registry, "name": link.registered_model,
            "version": link.registered_version, "url": link.url}


def registry_marks(conn: Connection, actor: str, model_id: str) -> list[RegistryMark]:
    """Every reference ``actor`` set on ``model_id`` from a registry, newest first."""
    return list(_rows(conn, model_id, actor))


def registry_link(conn: Connection, model_id: str, model_version: str) -> RegistryLink | None:
    """The registry's record of exactly (model, version), or None when none set its
    reference."""
    for mark in _rows(conn, model_id, None):
        if mark.model_version == model_version:
            return mark.link
    return None
