"""The write routes: tokens on each, their audit rows read back through the API, and what
each write does as seen through the read routes and the rule engine."""

from __future__ import annotations

import base64
import io
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from alerting.apply import apply_facts
from alerting.settings import parse_alerting
from store.alerts import list_outbox
from store.engine import make_engine
from streams.api import writes
from streams.api.app import create_app
from streams.api.range_reference import MODEL_PATH, VERSION_PATH
from tests.unit.alerting.streams import T0, psi_facts
from tests.unit.streams.api.conftest import api_settings, bearer

VERSION = "/v1/models/fraud/versions/7"
ALERT = f"{VERSION}/alerts/drift"
SIGNING = "whsec_" + base64.b64encode(b"driftline-test-signing-key-32byt").decode()
CSV = b"amount,country,prediction\n1.5,fr,0\n2.5,de,1\n3.5,fr,0\n4.5,it,1\n"


def _later(hours: float = 2) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


@dataclass(frozen=True)
class Write:
    """A valid request to one write route, the audit action it records, and any request
    that must come first."""

    method: str
    url: str
    action: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    setup: tuple[str, str, dict[str, Any]] | None = None


SILENCE = {"json": {"until": "2999-01-01T00:00:00Z", "reason": "known rollout",
                    "feature": "amount"}}
WRITES = {
    "version reference": Write("PUT", f"{VERSION}/reference", "reference.set",
                               {"content": CSV, "headers": {"Content-Type": "text/csv"}}),
    "model reference": Write("PUT", "/v1/models/fraud/reference", "reference.set",
                             {"content": CSV, "headers": {"Content-Type": "text/csv"}}),
    "silence": Write("PUT", f"{ALERT}/silence", "alert.silence", SILENCE),
    "lift": Write("DELETE", f"{ALERT}/silence", "alert.unsilence",
                  {"params": {"feature": "amount"}}, ("PUT", f"{ALERT}/silence", SILENCE)),
    "acknowledge": Write("POST", f"{ALERT}/acknowledge", "alert.acknowledge",
                         {"json": {"reason": "looking", "feature": "amount"}}),
    "delete": Write("DELETE", VERSION, "model_version.delete"),
}


RANGE_PATHS = (VERSION_PATH, MODEL_PATH)


def _send(client: TestClient, write: Write, headers: dict[str, str]) -> Any:
    kwargs = dict(write.kwargs)
    kwargs["headers"] = {**kwargs.get("headers", {}), **headers}
    return client.request(write.method, write.url, **kwargs)


def test_every_write_route_is_covered() -> None:
    engine = make_engine("sqlite://")
    routes = {(method, r.path) for r in create_app(engine, api_settings()).routes
              if isinstance(r, APIRoute) for method in (r.methods or set()) - {"GET"}}
    engine.dispose()
    # The range routes read a broker: tests/unit/streams/api/test_range_reference.py.
    assert len(routes - {("PUT", path) for path in RANGE_PATHS}) == len(WRITES)


@pytest.mark.parametrize("name", WRITES)
def test_a_write_needs_a_write_token(client: TestClient, name: str) -> None:
    write = WRITES[name]
    missing = _send(client, write, {})
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert missing.headers["content-type"] == "application/problem+json"
    assert "'write' scope" in missing.json()["detail"]
    wrong = _send(client, write, {"Authorization": "Bearer not-a-token"})
    assert wrong.status_code == 401
    assert wrong.json()["detail"] == "the token is not valid"
    reader = _send(client, write, bearer("reader"))
    assert reader.status_code == 403
    assert reader.json()["detail"] == "token 'reader' has no 'write' scope"
    audit = client.get("/v1/audit", headers=bearer("reader")).json()
    assert audit == {"items": [], "next_before": None}


@pytest.mark.parametrize("name", WRITES)
def test_a_write_with_a_write_token_is_audited(client: TestClient, name: str) -> None:
    write = WRITES[name]
    if write.setup is not None:
        method, url, kwargs = write.setup
        assert client.request(method, url, headers=bearer("admin"), **kwargs).status_code == 200
    answer = _send(client, write, bearer("writer"))
    assert answer.status_code == 200, answer.json()
    audit = client.get("/v1/audit", headers=bearer("reader"))
    assert audit.status_code == 200
    newest = audit.json()["items"][0]
    assert newest["actor"] == "writer"
    assert newest["action"] == write.action
    assert newest["model_id"] == "fraud"


def test_open_reads_do_not_open_writes(stored: Engine) -> None:
    with TestClient(create_app(stored, api_settings(open_reads=True))) as open_client:
        assert open_client.get("/v1/audit").status_code == 200
        assert open_client.delete(VERSION).status_code == 401


def test_an_uploaded_csv_sets_the_reference(client: TestClient) -> None:
    answer = client.put("/v1/models/fraud/versions/8/reference", content=CSV,
                        headers={**bearer("writer"), "Content-Type": "text/csv"})
    assert answer.status_code == 200
    summary = answer.json()
    assert summary["model_version"] == "8"
    assert summary["n_rows"] == 4
    assert set(summary["columns"]) == {"amount", "country", "prediction"}
    listed = client.get("/v1/models/fraud/references", headers=bearer("reader")).json()
    assert summary in listed
    audit = client.get("/v1/audit", headers=bearer("reader")).json()["items"][0]
    assert audit["before"] is None
    assert audit["after"]["n_rows"] == 4


def test_an_uploaded_parquet_file_replaces_the_version_reference(client: TestClient) -> None:
    table = pa.table({"amount": [1.0, 2.0, 3.0], "score": [0.1, 0.5, 0.9]})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    answer = client.put(f"{VERSION}/reference", content=sink.getvalue(),
                        params={"format": "parquet"},
                        headers={**bearer("writer"), "Content-Type": "application/octet-stream"})
    assert answer.status_code == 200
    listed = client.get("/v1/models/fraud/references", headers=bearer("reader")).json()
    seven = [r for r in listed if r["model_version"] == "7"]
    assert [r["n_rows"] for r in seven] == [3]
    audit = client.get("/v1/audit", headers=bearer("reader")).json()["items"][0]
    assert audit["before"] is not None  # the fixture's reference was replaced
    assert audit["after"]["columns"] == ["amount", "score"]


def test_jsonl_is_read_from_its_content_type(client: TestClient) -> None:
    body = b'{"amount": 1.0}\n{"amount": 2.0}\n'
    answer = client.put(f"{VERSION}/reference", content=body,
                        headers={**bearer("writer"), "Content-Type": "application/x-ndjson"})
    assert answer.status_code == 200
    assert answer.json()["n_rows"] == 2


@pytest.mark.parametrize(("content", "headers", "params", "detail"), [
    (CSV, {"Content-Type": "application/octet-stream"}, {},
     "cannot tell the file format from Content-Type 'application/octet-stream'"),
    (CSV, {"Content-Type": "text/csv"}, {"format": "xlsx"},
     "invalid query.format: Input should be 'csv', 'parquet' or 'jsonl'"),
    (b"", {"Content-Type": "text/csv"}, {}, "the request body is empty"),
    (b"amount\n", {"Content-Type": "text/csv"}, {}, "file has a header but no rows"),
    (CSV, {"Content-Type": "text/csv"}, {"prediction": "nope"}, "no column 'nope'"),
    # Found by the property-based tests: a header naming a column twice was a 500 (a
    # KeyError reading the column), a header that is not UTF-8 a bare codec message.
    (b"amount,amount\n1,2\n", {"Content-Type": "text/csv"}, {},
     "column 'amount' appears more than once"),
    (b"\x89PNG\r\n\x1a\n", {"Content-Type": "text/csv"}, {},
     "cannot read as csv: a column name is not UTF-8 text"),
])
def test_a_bad_upload_is_a_422_naming_no_temporary_file(
        client: TestClient, content: bytes, headers: dict[str, str], params: dict[str, str],
        detail: str) -> None:
    answer = client.put(f"{VERSION}/reference", content=content, params=params,
                        headers={**bearer("writer"), **headers})
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert detail in answer.json()["detail"]
    assert "driftline-ref-" not in answer.json()["detail"]
    audit = client.get("/v1/audit", headers=bearer("reader")).json()
    assert audit["items"] == []


def test_an_upload_larger_than_the_limit_is_a_413(client: TestClient,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writes, "MAX_UPLOAD_BYTES", len(CSV) - 1)
    answer = client.put(f"{VERSION}/reference", content=CSV,
                        headers={**bearer("writer"), "Content-Type": "text/csv"})
    assert answer.status_code == 413
    assert answer.json()["detail"] == f"the file is larger than {len(CSV) - 1} bytes"
    chunked = client.put(f"{VERSION}/reference", content=iter([CSV[:10], CSV[10:]]),
                         headers={**bearer("writer"), "Content-Type": "text/csv"})
    assert chunked.status_code == 413


def test_silence_lift_and_their_answers(client: TestClient) -> None:
    until = _later()
    body = {"until": until, "reason": "known rollout", "feature": "amount"}
    silenced = client.put(f"{ALERT}/silence", json=body, headers=bearer("writer")).json()
    assert silenced["silenced_by"] == "writer"
    assert silenced["reason"] == "known rollout"
    assert silenced["silenced_until"] is not None
    lifted = client.delete(f"{ALERT}/silence", params={"feature": "amount"},
                           headers=bearer("writer"))
    assert lifted.status_code == 200
    assert lifted.json()["silenced_until"] is None
    again = client.delete(f"{ALERT}/silence", params={"feature": "amount"},
                          headers=bearer("writer"))
    assert again.status_code == 404
    assert "is not silenced" in again.json()["detail"]
    actions = [row["action"] for row in
               client.get("/v1/audit", headers=bearer("reader")).json()["items"]]
    assert actions == ["alert.unsilence", "alert.silence"]


@pytest.mark.parametrize(("body", "detail"), [
    ({"until": "2000-01-01T00:00:00Z", "reason": "late"}, "until must be after now"),
    ({"until": "2999-01-01T00:00:00Z", "reason": ""}, "reason"),
    ({"reason": "no end"}, "invalid body.until"),
])
def test_a_bad_silence_is_a_422(client: TestClient, body: dict[str, str], detail: str) -> None:
    answer = client.put(f"{ALERT}/silence", json=body, headers=bearer("writer"))
    assert answer.status_code == 422
    assert detail in answer.json()["detail"]


def test_acknowledge_needs_a_firing_instance(client: TestClient) -> None:
    unknown = client.post(f"{VERSION}/alerts/other/acknowledge", json={"reason": "x"},
                          headers=bearer("writer"))
    assert unknown.status_code == 404
    assert "has no state" in unknown.json()["detail"]
    acked = client.post(f"{ALERT}/acknowledge", json={"reason": "on it", "feature": "amount"},
                        headers=bearer("writer")).json()
    assert acked["acknowledged"] is True
    assert acked["acknowledged_by"] == "writer"
    assert acked["acknowledged_episode"] == 1


def test_delete_removes_the_windows(client: TestClient) -> None:
    windows = f"{VERSION}/windows"
    assert client.get(windows, headers=bearer("reader")).json()["items"]
    deleted = client.delete(VERSION, headers=bearer("writer"))
    assert deleted.status_code == 200
    assert deleted.json()["deleted"]["windows"] == 12
    assert client.get(windows, headers=bearer("reader")).json() == {
        "items": [], "next_cursor": None}
    other = client.get("/v1/models/fraud/versions/8/windows", headers=bearer("reader"))
    assert len(other.json()["items"]) == 1
    again = client.delete(VERSION, headers=bearer("writer"))
    assert again.status_code == 404
    assert again.json()["detail"] == "model 'fraud' version '7' has no stored data"
    audit = client.get("/v1/audit", headers=bearer("reader")).json()["items"]
    assert len(audit) == 1
    assert audit[0]["before"]["windows"] == 12
    assert audit[0]["after"] is None


def test_the_audit_trail_is_paged_and_filtered(client: TestClient) -> None:
    for index in range(3):
        body = {"until": _later(index + 1), "reason": f"r{index}", "feature": "amount"}
        assert client.put(f"{ALERT}/silence", json=body,
                          headers=bearer("writer")).status_code == 200
    client.delete(VERSION, headers=bearer("writer"))
    first = client.get("/v1/audit", params={"limit": 2}, headers=bearer("reader")).json()
    assert [row["action"] for row in first["items"]] == ["model_version.delete",
                                                         "alert.silence"]
    second = client.get("/v1/audit", params={"limit": 2, "before": first["next_before"]},
                        headers=bearer("reader")).json()
    assert [row["after"]["reason"] for row in second["items"]] == ["r1", "r0"]
    assert second["next_before"] is None
    only = client.get("/v1/audit", params={"action": "model_version.delete"},
                      headers=bearer("reader")).json()["items"]
    assert len(only) == 1
    none = client.get("/v1/audit", params={"model_id": "other"},
                      headers=bearer("reader")).json()["items"]
    assert none == []
    too_many = client.get("/v1/audit", params={"limit": 51}, headers=bearer("reader"))
    assert too_many.status_code == 422


def test_a_silence_set_through_the_api_keeps_the_firing_out_of_the_outbox(
        client: TestClient, stored: Engine) -> None:
    settings = parse_alerting({
        "receivers": {"hook": {"type": "webhook", "url": "http://127.0.0.1:9/hook",
                               "signing_secret": SIGNING}},
        "rules": [{"name": "psi-high", "metric": "feature.psi", "above": 0.25,
                   "receivers": ["hook"]}],
    }, {})
    body = {"until": "2999-01-01T00:00:00Z", "reason": "known rollout", "feature": "amount"}
    silenced = client.put("/v1/models/fraud/versions/3/alerts/psi-high/silence", json=body,
                          headers=bearer("writer"))
    assert silenced.status_code == 200
    with stored.begin() as conn:
        fired = apply_facts(conn, settings, psi_facts(0, 0.9), T0, "driftline.retrain")
    assert [(event.status, event.episode) for event in fired] == [("firing", 1)]
    with stored.connect() as conn:
        assert list_outbox(conn) == []
    # The same firing of another, unsilenced instance is enqueued.
    client.delete("/v1/models/fraud/versions/3/alerts/psi-high/silence",
                  params={"feature": "amount"}, headers=bearer("writer"))
    with stored.begin() as conn:
        apply_facts(conn, settings, psi_facts(1, 0.0), T0 + timedelta(minutes=5),
                    "driftline.retrain")
        refired = apply_facts(conn, settings, psi_facts(2, 0.9), T0 + timedelta(minutes=10),
                              "driftline.retrain")
    assert [(event.status, event.episode) for event in refired] == [("firing", 2)]
    with stored.connect() as conn:
        assert len(list_outbox(conn)) == 1


def test_values_near_the_float_limit_give_a_finite_reference(client: TestClient) -> None:
    # Found by the property-based tests: b'amount,country\n,0\n,1.89e+154\n' overflowed
    # the standard deviation to inf (a RuntimeWarning, and a profile that is not JSON).
    body = b"amount,country\n1.8961503816218355e+154,0\n1.6e+308,1\n1.7e+308,2\n"
    answer = client.put(f"{VERSION}/reference", content=body,
                        headers={**bearer("writer"), "Content-Type": "text/csv"})
    assert answer.status_code == 200, answer.json()
    stored = client.get(f"/v1/references/{answer.json()['id']}", headers=bearer("reader"))
    assert stored.status_code == 200
    amount = next(c for c in stored.json()["profile"]["columns"] if c["name"] == "amount")
    assert amount["mean"] == pytest.approx(1.1e308)
    assert amount["std"] == pytest.approx(statistics.pstdev([0.0, 1.6, 1.7]) * 1e308)


def test_a_json_body_that_is_not_utf8_is_a_422(client: TestClient) -> None:
    # Found by the property-based tests: the body b'\x18\xffFt' was the framework's bare
    # 400 ("There was an error parsing the body"), a status the document does not list.
    answer = client.post(f"{ALERT}/acknowledge", content=b"\x18\xffFt",
                         headers={**bearer("writer"), "Content-Type": "application/json"})
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"] == (
        "invalid body: the request body cannot be read as JSON in UTF-8")


def test_a_405_allows_every_method_of_the_path(client: TestClient) -> None:
    # Found by the property-based tests: OPTIONS on a silence answered `Allow: PUT`,
    # though the path also takes DELETE.
    answer = client.options(f"{ALERT}/silence", headers=bearer("writer"))
    assert answer.status_code == 405
    assert answer.headers["allow"] == "DELETE, PUT"
