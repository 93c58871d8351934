"""A database outage under the API: reads and writes answer 503 problems, not 500s, and
the API answers again once the database is back. The outage is a TCP proxy between the
API and PostgreSQL that refuses connections and cuts the open ones."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from store import make_engine
from streams.api.app import create_app
from tests.conftest import schema_url
from tests.tcp_proxy import TcpProxy
from tests.unit.streams.api.conftest import api_settings, bearer

READS = ["/v1/models", "/v1/models/fraud/versions/7/windows", "/v1/audit",
         "/v1/models/fraud/versions/7/report"]


@pytest.fixture
def proxied(postgres_url: str) -> Iterator[tuple[TestClient, TcpProxy]]:
    with schema_url(postgres_url, "outage", migrated=True) as url:
        parsed = make_url(url)
        with TcpProxy(parsed.host or "127.0.0.1", parsed.port or 5432) as proxy:
            through = parsed.set(host="127.0.0.1", port=proxy.port)
            engine = make_engine(through.render_as_string(hide_password=False),
                                 connect_args={"connect_timeout": 2})
            try:
                with TestClient(create_app(engine, api_settings())) as client:
                    yield client, proxy
            finally:
                engine.dispose()


def test_an_outage_is_a_503_problem_and_the_api_recovers(
        proxied: tuple[TestClient, TcpProxy]) -> None:
    client, proxy = proxied
    assert client.get("/v1/models", headers=bearer("reader")).status_code == 200
    proxy.refuse()
    for url in READS:
        answer = client.get(url, headers=bearer("reader"))
        assert answer.status_code == 503, (url, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["detail"] == "database unavailable: OperationalError"
        assert answer.headers["retry-after"] == "5"
    silence = client.put("/v1/models/fraud/versions/7/alerts/drift/silence",
                         headers=bearer("writer"),
                         json={"until": "2100-01-01T00:00:00Z", "reason": "maintenance"})
    assert silence.status_code == 503
    assert client.get("/readyz").status_code == 503
    proxy.forward()
    assert client.get("/v1/models", headers=bearer("reader")).status_code == 200
    assert client.get("/readyz").status_code == 200
