"""``PUT .../reference/range`` over a fake predictions topic: the stored reference, its
audit row and the errors (on SQLite, and PostgreSQL when it is configured)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from streams.api.app import create_app
from streams.config.settings import Settings
from streams.transport import history
from tests.unit.streams.api.conftest import api_settings, bearer
from tests.unit.streams.transport.fake_topic import FakeTopic, event

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
END = T0 + timedelta(hours=1)
VERSION_URL = "/v1/models/fraud/versions/1/reference/range"
MODEL_URL = "/v1/models/fraud/reference/range"
BODY = {"start": "2026-12-01T12:00:00Z", "end": "2026-12-01T13:00:00Z"}


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@pytest.fixture
def topic(monkeypatch: pytest.MonkeyPatch) -> FakeTopic:
    """The predictions topic every range read of the test opens: 20 events in range
    (versions 1 and 2), 5 before it (written before start - grace: not read), and 1 invalid
    record."""
    found = FakeTopic(Settings().topics.predictions, 2)
    for n in range(25):
        at = T0 + timedelta(minutes=3 * n - 15)
        found.append(n % 2, ms(at), event("fraud", at, n, version=str(1 + n % 2),
                                          amount=float(n)))
    found.append(0, ms(T0), b"not json")
    monkeypatch.setattr(history, "_open", found.consumer)
    return found


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(engine, api_settings(), Settings())) as test_client:
        yield test_client


def put(client: TestClient, url: str, body: dict[str, Any], who: str = "writer") -> Any:
    return client.put(url, json=body, headers=bearer(who))


def test_a_range_sets_the_version_reference_audited_with_its_counts(
        client: TestClient, topic: FakeTopic) -> None:
    answer = put(client, VERSION_URL, BODY)
    assert answer.status_code == 200, answer.json()
    summary = answer.json()
    assert (summary["model_version"], summary["source"], summary["n_rows"]) == ("1", "range", 10)
    assert set(summary["columns"]) == {"i", "amount", "prediction", "score"}
    counts = {"records_read": 21, "events_in_range": 10, "rows_kept": 10,
              "skipped_invalid": 1, "features_dropped": 0, "sampled": False}
    assert summary["counts"] == counts
    assert summary["range"] == {"start": T0.isoformat(), "end": END.isoformat()}
    stored = client.get("/v1/models/fraud/references", headers=bearer("reader")).json()
    assert [r["source"] for r in stored if r["model_version"] == "1"] == ["range"]
    audit = client.get("/v1/audit", headers=bearer("reader")).json()["items"][0]
    assert (audit["actor"], audit["action"], audit["model_version"]) == (
        "writer", "reference.set", "1")
    assert audit["after"]["source"] == "range"
    assert audit["after"]["counts"] == counts
    assert audit["after"]["range"] == summary["range"]


def test_the_model_wide_range_takes_every_version(client: TestClient, topic: FakeTopic) -> None:
    answer = put(client, MODEL_URL, BODY)
    assert answer.status_code == 200, answer.json()
    assert (answer.json()["model_version"], answer.json()["n_rows"]) == ("", 20)


def test_a_range_write_needs_a_write_token(client: TestClient, topic: FakeTopic) -> None:
    assert client.put(VERSION_URL, json=BODY).status_code == 401
    assert put(client, MODEL_URL, BODY, "reader").status_code == 403
    assert topic.opened == 0


@pytest.mark.parametrize(("body", "detail"), [
    ({"start": BODY["end"], "end": BODY["start"]}, "must be after start"),
    ({"start": "2026-10-01T00:00:00Z", "end": BODY["end"]}, "longer than 31 days"),
    ({"start": "yesterday", "end": BODY["end"]}, "invalid body.start"),
    ({**BODY, "timeout": 0}, "invalid body.timeout"),
])
def test_a_bad_range_is_a_422(client: TestClient, topic: FakeTopic, body: dict[str, Any],
                              detail: str) -> None:
    answer = put(client, VERSION_URL, body)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert detail in answer.json()["detail"]
    assert topic.opened == 0


def test_a_range_without_events_is_a_422_naming_it(client: TestClient,
                                                   topic: FakeTopic) -> None:
    answer = put(client, "/v1/models/fraud/versions/3/reference/range", BODY)
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith(
        f"no valid event of model 'fraud' version '3' from {T0.isoformat()} to "
        f"{END.isoformat()} in topic driftline.predictions")
    assert client.get("/v1/audit", headers=bearer("reader")).json()["items"] == []


def test_a_read_that_does_not_finish_is_a_504(client: TestClient, topic: FakeTopic) -> None:
    topic.stalled = True
    answer = put(client, VERSION_URL, {**BODY, "timeout": 0.2})
    assert answer.status_code == 504
    assert "did not finish in time" in answer.json()["detail"]


def test_a_broker_that_does_not_answer_is_a_503_naming_it(engine: Engine) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(broker_url=f"kafka://127.0.0.1:{port}")
    with TestClient(create_app(engine, api_settings(), settings)) as client:
        answer = put(client, VERSION_URL, {**BODY, "timeout": 2})
    assert answer.status_code == 503
    assert answer.json()["detail"] == f"cannot reach the broker at 127.0.0.1:{port}"
    assert "write-token" not in answer.text
