"""Bad parameters are 422 problems: limits, cursors and times."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient

from tests.unit.streams.api.conftest import bearer

WINDOWS = "/v1/models/fraud/versions/7/windows"


@pytest.mark.parametrize(("params", "location"), [
    ({"limit": 0}, "query.limit"), ({"limit": 51}, "query.limit"),
    ({"limit": "many"}, "query.limit"), ({"start": "yesterday"}, "query.start"),
])
def test_bad_parameters(client: TestClient, params: dict[str, str | int], location: str) -> None:
    answer = client.get(WINDOWS, params=params, headers=bearer("reader"))
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["status"] == 422
    assert body["detail"].startswith(f"invalid {location}: ")
    assert body["errors"][0]["location"] == location


def test_the_largest_page_is_max_page(client: TestClient) -> None:
    answer = client.get(WINDOWS, params={"limit": 50}, headers=bearer("reader"))
    assert answer.status_code == 200


@pytest.mark.parametrize("cursor", [
    "not base64!", base64.urlsafe_b64encode(b"yesterday|1").decode(),
    base64.urlsafe_b64encode(b"2026-11-22T10:00:00|1").decode(),  # no zone
    base64.urlsafe_b64encode(b"2026-11-22T10:00:00+00:00|x").decode(),
])
def test_a_bad_cursor(client: TestClient, cursor: str) -> None:
    answer = client.get(WINDOWS, params={"cursor": cursor}, headers=bearer("reader"))
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("invalid cursor")


@pytest.mark.parametrize("reference_id", ["0", str(2**63), "100000000000000000000000000"])
def test_a_reference_id_outside_the_database_ids(client: TestClient, reference_id: str) -> None:
    """Found by the property-based tests: an id past 64 bits failed the query (a 500)."""
    answer = client.get(f"/v1/references/{reference_id}", headers=bearer("reader"))
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["location"] == "path.reference_id"


def test_a_cursor_whose_row_id_is_past_64_bits(client: TestClient) -> None:
    cursor = base64.urlsafe_b64encode(f"2026-11-22T10:00:00+00:00|{2**63}".encode()).decode()
    answer = client.get(WINDOWS, params={"cursor": cursor}, headers=bearer("reader"))
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("invalid cursor")
