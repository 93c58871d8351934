"""The receiver types, by name: ``REGISTRY`` is the one list of them.

Everything that enumerates receiver types reads ``REGISTRY`` when it runs (not
at import): parsing and validating ``alerting.receivers`` (``alerting.config``),
the configuration's JSON Schema (``streams.config.schema_alerting``), what is
rendered into the outbox (``render``, ``should_send``, ``alerting.apply``), how
it is sent (``alerting.http``) and which kinds an outbox row may carry
(``outbox_kinds``, checked by ``enqueue``).

The outbox table does not list the kinds: its ``kind`` column has no CHECK of
the values since migration 0004, so a new receiver type needs no schema
change; ``enqueue`` here refuses a kind not in the registry, and the store
only checks that a kind is a short lowercase name.

How to add a receiver type, say ``teams``:

1. Write ``alerting/kinds/teams.py`` defining ``KIND = ReceiverKind("teams",
   keys, render, request)`` (``alerting.receivers.ReceiverKind``):

   - ``keys``: its secret keys (``SecretKey``: name, value check, JSON Schema of
     the value, required or a default); reuse ``URL`` and ``SIGNING_SECRET``.
     Each is given as ``<key>``, ``<key>_env`` or ``<key>_file``; the value is
     in ``ReceiverSettings.url``, ``.signing_secret``, ``.routing_key`` or, for a
     new key, ``.secrets[<key>]``.
   - ``render(event, receiver, grafana_url)``: the JSON payload stored in the
     outbox (no secrets).
   - ``request(row, receiver, now)``: the URL, body and headers of one attempt
     (``alerting.delivery.json_request`` and ``signed_request`` cover the usual
     shapes).
   - ``alerts``, ``retrain``, ``sends``: which events it hears (default: every
     alert event, no retrain requests).

2. Add ``"teams": teams.KIND`` to ``REGISTRY`` below.

3. Describe it in ``docs/alerting.md`` (a row of the receivers table). Only if
   it has a secret key no other type has: a row for ``<key>``, ``<key>_env``,
   ``<key>_file`` in ``docs/configuration.md`` (every schema key is documented
   there; a test checks it) and, optionally, its mask in
   ``streams.config.effective.SECRET_SETTINGS`` (an unlisted secret shows as
   ``***`` anyway).

Parsing, the error messages, the JSON Schema, the outbox, the dispatcher and
the HTTP transport then handle it with no other change
(``tests/unit/alerting/test_kinds.py`` adds a type this way).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from alerting.kinds import deployer, pagerduty, slack, webhook
from alerting.model import AlertEvent
from alerting.receivers import ReceiverKind, ReceiverSettings
from store import outbox

TOPIC_KIND = "topic"  # the retrain topic's outbox rows (``streams.alerts.service``)

REGISTRY: dict[str, ReceiverKind] = {
    "slack": slack.KIND,
    "pagerduty": pagerduty.KIND,
    "webhook": webhook.KIND,
    "deployer": deployer.KIND,
}


def receiver_types() -> tuple[str, ...]:
    """The receiver types, in registry order."""
    return tuple(REGISTRY)


def kind_of(receiver: ReceiverSettings) -> ReceiverKind:
    """The type of ``receiver``; ``ValueError`` (naming the receiver) for a type not
    registered, so the HTTP transport dead-letters such a row instead of retrying it."""
    kind = REGISTRY.get(receiver.type)
    if kind is None:
        raise ValueError(f"receiver {receiver.name!r} has type {receiver.type!r}, which is "
                         f"not one of {', '.join(REGISTRY)}")
    return kind


def outbox_kinds() -> tuple[str, ...]:
    """The kinds an outbox row may have: the receiver types and the retrain topic."""
    return (*REGISTRY, TOPIC_KIND)


def should_send(event: AlertEvent, receiver: ReceiverSettings) -> bool:
    """Whether ``receiver`` is told of ``event``: a deployer hears only of firings."""
    return kind_of(receiver).sends(event)


def render(event: AlertEvent, receiver: ReceiverSettings,
           grafana_url: str | None) -> dict[str, Any]:
    """The payload for ``receiver``; ``ValueError`` for a resolution sent to a deployer."""
    return kind_of(receiver).render(event, receiver, grafana_url)


def enqueue(conn: Connection, receiver: str, kind: str, idempotency_key: str,
            payload: dict[str, Any], now: datetime, *,
            ordering_key: str | None = None) -> bool:
    """``store.outbox.enqueue`` for a kind of ``outbox_kinds()`` (``ValueError`` otherwise)."""
    kinds = outbox_kinds()
    if kind not in kinds:
        raise ValueError(f"kind must be one of {', '.join(kinds)}, got {kind!r}")
    return outbox.enqueue(conn, receiver, kind, idempotency_key, payload, now,
                          ordering_key=ordering_key)
