"""Alerts and retrain requests of a model version a registry knows link its page.

``driftline registry watch`` records the registered model in the audit row of the
reference it sets (``store.registry_links``); ``alerting.apply`` reads it when a
transition is told, and every payload carries or links it.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from alerting.apply import apply_facts
from alerting.payloads import cloudevent, pagerduty, retrain_key, retrain_request
from alerting.settings import AlertingSettings, parse_alerting
from alerting.slack import slack
from store import make_engine, upgrade
from store.alerts import list_outbox
from store.audit import record_audit
from store.registry_links import registry_link

from .payload_events import feature_event
from .streams import T0, psi_facts

SIGNING = "whsec_" + base64.b64encode(b"driftline-test-signing-key-32byt").decode()
PAGE = "http://mlflow.example:5000/#/models/fraud-classifier/versions/3"
REGISTRY = {"registry": "mlflow", "name": "fraud-classifier", "version": "3", "url": PAGE}


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'links.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def _settings() -> AlertingSettings:
    hook = {"url": "https://hooks.example/x", "signing_secret": SIGNING}
    return parse_alerting({
        "receivers": {"chat": {"type": "slack", "url": "https://hooks.slack.com/services/x"},
                      "pager": {"type": "pagerduty", "routing_key": "k"},
                      "hook": {"type": "webhook", **hook},
                      "deploy": {"type": "deployer", **hook}},
        "rules": [{"name": "psi-high", "metric": "feature.psi", "above": 0.25, "retrain": True,
                   "receivers": ["chat", "pager", "hook", "deploy"]}],
    }, {})


def _registered(engine: Engine, version: str, actor: str = "mlflow") -> None:
    target = {"registry": "mlflow", "registered_model": "fraud-classifier",
              "registered_version": "3", "run_id": "r1", "dataset": "s3://b/ref.parquet",
              "url": PAGE}
    with engine.begin() as conn:
        record_audit(conn, actor, "reference.set", model_id="fraud", model_version=version,
                     target=target)


def _payloads(engine: Engine) -> dict[str, Any]:
    with engine.begin() as conn:
        apply_facts(conn, _settings(), psi_facts(0, 0.5), T0, "driftline.retrain")
        return {row["receiver"]: row["payload"] for row in list_outbox(conn)}


def test_every_payload_of_a_registered_version_links_its_page(engine: Engine) -> None:
    _registered(engine, "3")
    payloads = _payloads(engine)
    assert set(payloads) == {"chat", "pager", "hook", "deploy", "topic:driftline.retrain"}
    buttons = [element for block in payloads["chat"]["blocks"] if block["type"] == "actions"
               for element in block["elements"]]
    label = "MLflow: fraud-classifier version 3"
    assert [(b["text"]["text"], b["url"]) for b in buttons if b["url"] == PAGE] == [(label, PAGE)]
    assert {"href": PAGE, "text": label} in payloads["pager"]["links"]
    assert payloads["hook"]["data"]["registered_model"] == REGISTRY
    assert payloads["deploy"]["data"]["registered_model"] == REGISTRY
    assert payloads["topic:driftline.retrain"] == payloads["deploy"]


@pytest.mark.parametrize("version", ["4", ""])
def test_another_version_or_the_champion_row_is_not_linked(engine: Engine, version: str) -> None:
    _registered(engine, version)  # fraud v4, or the model-wide (champion) reference
    payloads = _payloads(engine)
    assert "registered_model" not in payloads["hook"]["data"]
    assert "registered_model" not in payloads["deploy"]["data"]
    assert PAGE not in str(payloads)


def test_a_link_is_read_back_from_whichever_actor_set_it(engine: Engine) -> None:
    _registered(engine, "3", actor="another-registry-watcher")
    with engine.connect() as conn:
        link = registry_link(conn, "fraud", "3")
        assert registry_link(conn, "fraud", "4") is None
    assert link is not None
    assert (link.registry, link.registered_model, link.registered_version, link.url) == (
        "mlflow", "fraud-classifier", "3", PAGE)


def test_the_renderers_leave_an_unregistered_version_as_it_was() -> None:
    plain, linked = feature_event(), feature_event(registry=REGISTRY)
    assert "registered_model" not in retrain_request(plain, retrain_key(plain))["data"]
    assert retrain_request(linked, retrain_key(linked))["data"]["registered_model"] == REGISTRY
    assert "registered_model" not in cloudevent(plain)["data"]
    assert PAGE not in str(pagerduty(plain, None)) + str(slack(plain, None))
    assert PAGE in str(pagerduty(linked, None))
    assert PAGE in str(slack(linked, None))
