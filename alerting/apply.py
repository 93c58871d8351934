"""Alert rules applied inside the transaction of the results that move them.

``apply_facts`` runs in the transaction that stores a window's results (the
window close of the ingest, or the performance write of the outcome consumer):
it loads the (model, version)'s alert states (``FOR UPDATE`` on PostgreSQL),
advances every rule of the facts' source, stores the changed states, records
each transition and enqueues one outbox row per receiver. All of it commits with
the window or not at all, and a replayed window changes nothing: the state
machine ignores windows it has seen, and transitions and outbox rows are
insert-if-absent on their natural keys.

Retrain requests (rules with ``retrain: true``): a firing asks for one unless a
request of the same (model, version) is still open (its cooldown, in window
time, has not ended). It goes to the rule's ``deployer`` receivers (every
``deployer`` receiver when the rule names none; "deployer" is any receiver type
with ``ReceiverKind.retrain``) and, with ``retrain.topic``,
to the retrain topic through the outbox row of receiver ``topic:<name>``.

Silences (``store.silences``): a new transition of a silenced instance is
recorded as always, but no receiver is told of it; the resolve of an episode
whose firing was told is always told, so it closes the receivers' incident.
This is decided here, at enqueue, in the transaction of the transition, where
the instance, its episode and its silence are at hand; an outbox row is a
rendered payload per receiver and the dispatcher never looks inside it. A
silence does not hold back a retrain request: it mutes people, not the rule.

Registered models: when a model registry set the reference of the event's exact
model version (``driftline registry watch``, ``store.registry_links``), the event
is told with ``AlertEvent.registry`` (name, version, page) and every payload
links that page; a retrain request carries it as ``registered_model``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from alerting.kinds import enqueue, kind_of, render, should_send
from alerting.model import AlertEvent, WindowFacts
from alerting.payloads import retrain_key, retrain_request
from alerting.settings import AlertingSettings
from alerting.state import Step, evaluate, evaluate_silence
from store.alerts import (
    load_alert_states,
    open_retrain,
    record_transition,
    save_alert_states,
    save_retrain,
)
from store.registry_links import link_fields, registry_link
from store.silences import Instance, on_transition

TOPIC_PREFIX = "topic:"


def topic_receiver(topic: str) -> str:
    """The outbox receiver name of a Kafka topic."""
    return TOPIC_PREFIX + topic


def apply_facts(conn: Connection, settings: AlertingSettings, facts: WindowFacts,
                now: datetime, retrain_topic: str) -> list[AlertEvent]:
    """Advance the rules of ``facts.source`` on one window; the new transitions."""
    rules = [r for r in settings.rules if r.source == facts.source
             and r.matches(facts.model_id, facts.model_version)]
    if not rules:
        return []
    states = load_alert_states(conn, facts.model_id, facts.model_version, lock=True)
    steps = [step for rule in rules for step in evaluate(rule, facts, states)]
    return _commit(conn, settings, steps, now, retrain_topic)


def apply_silence(conn: Connection, settings: AlertingSettings,
                  seen: Iterable[tuple[str, str, datetime]], now: datetime,
                  retrain_topic: str) -> list[AlertEvent]:
    """Advance the ``no_data`` rules for each (model, version, last seen); new transitions."""
    rules = [r for r in settings.rules if r.source == "silence"]
    events: list[AlertEvent] = []
    for model_id, version, last_seen in seen:
        mine = [r for r in rules if r.matches(model_id, version)]
        if not mine:
            continue
        states = load_alert_states(conn, model_id, version, lock=True)
        steps = [step for rule in mine if (step := evaluate_silence(
            rule, model_id, version, last_seen, now,
            states.get((rule.name, model_id, version, "")))) is not None]
        events += _commit(conn, settings, steps, now, retrain_topic)
    return events


def _commit(conn: Connection, settings: AlertingSettings, steps: list[Step], now: datetime,
            retrain_topic: str) -> list[AlertEvent]:
    if not steps:
        return []
    save_alert_states(conn, [s.state for s in steps], now)  # one step per instance
    events: list[AlertEvent] = []
    for step in steps:
        if step.event is not None and record_transition(conn, step.event, now):
            events.append(step.event)
            _notify(conn, settings, step.event, now, retrain_topic)
    return events


def _with_registry(conn: Connection, event: AlertEvent) -> AlertEvent:
    """``event`` with the registry's record of its model version, when there is one."""
    link = registry_link(conn, event.model_id, event.model_version)
    return event if link is None else replace(event, registry=link_fields(link))


def _notify(conn: Connection, settings: AlertingSettings, event: AlertEvent, now: datetime,
            retrain_topic: str) -> None:
    event = _with_registry(conn, event)
    instance = Instance(event.rule, event.model_id, event.model_version, event.feature)
    # store.silences: no receiver hears of a silenced firing, nor of its episode's resolve.
    silenced = on_transition(conn, instance, event.episode, event.status, now)
    for name in () if silenced else event.receivers:
        receiver = settings.receivers[name]
        if not kind_of(receiver).alerts or not should_send(event, receiver):
            continue  # deployers hear of retrain requests only (below)
        enqueue(conn, name, receiver.type, event.idempotency_key,
                render(event, receiver, settings.grafana_url), now,
                ordering_key=event.dedup_key)
    if event.retrain and event.status == "firing":
        _request_retrain(conn, settings, event, now, retrain_topic)


def _request_retrain(conn: Connection, settings: AlertingSettings, event: AlertEvent,
                     now: datetime, retrain_topic: str) -> None:
    at = event.window_end
    if open_retrain(conn, event.model_id, event.model_version, at) is not None:
        return
    key = retrain_key(event)
    payload = retrain_request(event, key)
    data: dict[str, Any] = payload["data"]
    until = at + timedelta(seconds=settings.retrain.cooldown)
    if not save_retrain(conn, event.model_id, event.model_version, event.rule, key, at, until,
                        dict(data["evidence"])):
        return
    named = [n for n in event.receivers if kind_of(settings.receivers[n]).retrain]
    deployers = named or [n for n, r in settings.receivers.items() if kind_of(r).retrain]
    for name in deployers:
        enqueue(conn, name, settings.receivers[name].type, key, payload, now)
    if settings.retrain.topic:
        enqueue(conn, topic_receiver(retrain_topic), "topic", key, payload, now)
