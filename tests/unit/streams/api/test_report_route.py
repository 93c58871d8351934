"""The report route: a range, one window by ``at``, the window cap and the errors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from dashboards.catalogue import REPORT_LINK
from streams.api import report_route
from streams.api.app import create_app
from tests.unit.store.conftest import START
from tests.unit.streams.api.conftest import N_WINDOWS, STEP, api_settings, bearer
from tests.unit.streams.report.html_check import outside_references, read

URL = "/v1/models/fraud/versions/7/report"
READER = bearer("reader")


def _windows_drawn(html: str) -> int:
    """The window count the page's facts give (``windows: N, from ... to ...``)."""
    marker = '<th>windows</th><td class="n">'
    assert marker in html
    return int(html.split(marker, 1)[1].split(",", 1)[0])


def test_a_range_is_a_self_contained_page(client: TestClient) -> None:
    answer = client.get(URL, headers=READER)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    page = read(answer.text)
    assert page.problems == []
    assert outside_references(page) == []
    assert _windows_drawn(answer.text) == N_WINDOWS
    part = client.get(URL, headers=READER, params={
        "start": (START + STEP).isoformat(), "end": (START + 3 * STEP).isoformat()})
    assert _windows_drawn(part.text) == 2


@pytest.mark.parametrize(("offset", "window"), [
    (timedelta(minutes=6), 0),               # the first window closed at 6 minutes
    (timedelta(minutes=6, seconds=59), 0),   # still the first until the second closes
    (timedelta(minutes=11), 1),
    (N_WINDOWS * STEP + timedelta(days=1), N_WINDOWS - 1),
])
def test_at_is_the_window_the_gauges_showed(client: TestClient, offset: timedelta,
                                             window: int) -> None:
    moment = START + offset
    start = (START + window * STEP).strftime("%Y-%m-%dT%H:%M:%SZ")
    for at in (moment.isoformat(), str(int(moment.timestamp() * 1000))):
        answer = client.get(f"{URL}/window", headers=READER, params={"at": at})
        assert answer.status_code == 200, answer.text
        assert _windows_drawn(answer.text) == 1
        assert f"{start} to" in answer.text


@pytest.mark.parametrize(("path", "params", "status", "detail"), [
    ("/window", {"at": (START + timedelta(minutes=5)).isoformat()}, 404, "had closed by"),
    ("/window", {"at": "yesterday"}, 422, "at"),
    ("/window", {"at": "9" * 30}, 422, "at"),
    ("/window", {}, 422, "at"),
    ("", {"start": "2030-01-01T00:00:00Z"}, 404, "no stored window"),
])
def test_bad_or_empty_ranges_are_problems(client: TestClient, path: str,
                                          params: dict[str, str], status: int, detail: str
                                          ) -> None:
    answer = client.get(URL + path, headers=READER, params=params)
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    assert detail in answer.json()["detail"]


def test_an_unknown_model_is_a_404(client: TestClient) -> None:
    answer = client.get("/v1/models/nope/versions/7/report", headers=READER)
    assert answer.status_code == 404
    assert answer.json()["detail"] == "unknown model 'nope'"


def test_a_range_over_the_cap_is_refused_before_it_is_read(
        stored: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report_route, "MAX_WINDOWS", N_WINDOWS - 1)
    with TestClient(create_app(stored, api_settings())) as client:
        answer = client.get(URL, headers=READER)
        assert answer.status_code == 422
        assert f"holds {N_WINDOWS} windows" in answer.json()["detail"]
        assert client.get(URL, headers=READER, params={
            "end": (START + (N_WINDOWS - 1) * STEP).isoformat()}).status_code == 200


def test_the_dashboard_link_opens_the_report_of_the_clicked_window(client: TestClient) -> None:
    """The drill-down's data link, filled in as Grafana fills it for a point of model fraud
    version 7 at 11 minutes (the second window was then the newest closed one)."""
    clicked = START + timedelta(minutes=11)
    url = (REPORT_LINK.replace("${api_url}", "")
           .replace("${__field.labels.model}", "fraud")
           .replace("${__field.labels.version}", "7")
           .replace("${__value.time}", str(int(clicked.timestamp() * 1000))))
    answer = client.get(url, headers=READER)
    assert answer.status_code == 200
    assert _windows_drawn(answer.text) == 1
    assert f"{(START + STEP).strftime('%Y-%m-%dT%H:%M:%SZ')} to" in answer.text
