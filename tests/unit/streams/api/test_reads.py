"""The read routes: shapes, the CLI's JSON rows, pagination, time ranges and 404s."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from store.types import iso_utc
from streams.cli.main import main
from tests.unit.store.conftest import START
from tests.unit.streams.api.conftest import N_WINDOWS, STEP, bearer

V7 = "/v1/models/fraud/versions/7"


def get(client: TestClient, url: str, **params: Any) -> Any:
    answer = client.get(url, params=params, headers=bearer("reader"))
    assert answer.status_code == 200, answer.text
    return answer.json()


def every_page(client: TestClient, url: str, limit: int, **params: Any) -> list[list[Any]]:
    pages, cursor = [], None
    while True:
        body = get(client, url, limit=limit, **({"cursor": cursor} if cursor else {}), **params)
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}


def test_readiness_fails_before_the_schema_exists(sqlite_engine: Engine) -> None:
    from streams.api.app import create_app
    from tests.unit.streams.api.conftest import api_settings

    with TestClient(create_app(sqlite_engine, api_settings())) as client:
        answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert "driftline db upgrade" in answer.json()["detail"]


def test_models_have_versions_with_last_window_status_and_reference(client: TestClient) -> None:
    [model] = get(client, "/v1/models")
    assert model["model_id"] == "fraud"
    seven, eight = model["versions"]
    assert (seven["model_version"], seven["n_windows"]) == ("7", N_WINDOWS)
    assert seven["last_window"]["window_start"] == iso_utc(START + (N_WINDOWS - 1) * STEP)
    assert seven["status"] == seven["last_window"]["status"]
    assert seven["reference"]["model_version"] == "7"
    assert eight["reference"]["model_version"] == ""  # the model-wide one
    assert get(client, "/v1/models/fraud") == model


def test_windows_are_the_rows_of_the_windows_command(client: TestClient, stored: Engine) -> None:
    url = str(stored.url.render_as_string(hide_password=False))
    printed = CliRunner().invoke(main, ["windows", "fraud", "--model-version", "7",
                                        "--format", "json", "--database", url])
    assert printed.exit_code == 0, printed.output
    pages = every_page(client, f"{V7}/windows", 5)
    assert [len(page) for page in pages] == [5, 5, 2]
    assert [row for page in pages for row in page] == json.loads(printed.output)
    assert pages[0][0]["performance"]["metrics"] == {"accuracy": 0.9}
    assert pages[0][4]["performance_estimate"] == {"accuracy": 0.8}


def test_a_page_of_exactly_limit_rows_has_no_next_cursor(client: TestClient) -> None:
    body = get(client, f"{V7}/windows", limit=N_WINDOWS)
    assert len(body["items"]) == N_WINDOWS
    assert body["next_cursor"] is None


def test_windows_in_a_time_range(client: TestClient) -> None:
    start, end = START + 2 * STEP, START + 5 * STEP
    body = get(client, f"{V7}/windows", start=start.isoformat(), end=end.isoformat())
    assert [row["window_start"] for row in body["items"]] == [
        iso_utc(START + i * STEP) for i in (2, 3, 4)]
    naive = get(client, f"{V7}/windows", start=start.replace(tzinfo=None).isoformat())
    assert len(naive["items"]) == N_WINDOWS - 2  # a time without a zone is UTC


def test_feature_history_pages(client: TestClient) -> None:
    pages = every_page(client, f"{V7}/features/amount", 4)
    rows = [row for page in pages for row in page]
    assert [row["window_start"] for row in rows] == [
        iso_utc(START + i * STEP) for i in range(N_WINDOWS)]
    assert {row["feature"] for row in rows} == {"amount"}
    assert [row["drifted"] for row in rows[:2]] == [True, False]
    assert "psi" in rows[0]
    assert get(client, f"{V7}/features/nothing")["items"] == []


def test_performance_detections_alerts_and_references(client: TestClient) -> None:
    performance = get(client, f"{V7}/performance")["items"]
    assert [p["n_labels"] for p in performance[:4]] == [100, 101, 102, 103]
    assert performance[0]["n_predictions"] is not None
    assert performance[4]["estimate"] == {"accuracy": 0.8}
    pages = every_page(client, f"{V7}/detections", 2)
    assert [[d["position"] for d in page] for page in pages] == [[0, 100], [200]]
    [alert] = get(client, "/v1/models/fraud/alerts")
    assert (alert["rule"], alert["status"]) == ("drift", "firing")
    pages = every_page(client, "/v1/models/fraud/alerts/transitions", 1)
    assert [page[0]["status"] for page in pages] == ["firing", "resolved"]
    references = get(client, "/v1/models/fraud/references")
    assert [r["model_version"] for r in references] == ["", "7"]
    assert references[0]["columns"]["amount"] == "numeric"
    one = get(client, f"/v1/references/{references[1]['id']}")
    assert one["profile"]["n_rows"] == one["n_rows"]


def test_unknown_model_reference_and_route_are_problems(client: TestClient) -> None:
    for url, detail in (("/v1/models/nobody", "unknown model 'nobody'"),
                        ("/v1/models/nobody/versions/1/windows", "unknown model 'nobody'"),
                        ("/v1/references/999", "no reference 999"),
                        ("/v1/nothing", "no route /v1/nothing")):
        answer = client.get(url, headers=bearer("reader"))
        assert answer.status_code == 404, url
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json() == {"type": "about:blank", "title": "Not Found", "status": 404,
                                 "detail": detail, "instance": url}


def test_an_unknown_version_has_empty_pages(client: TestClient) -> None:
    assert get(client, "/v1/models/fraud/versions/99/windows") == {
        "items": [], "next_cursor": None}
