"""Tokens on every read route: missing, wrong, write-only, read; and open reads."""

from __future__ import annotations

import logging

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from store.engine import make_engine
from streams.api.app import create_app
from tests.unit.streams.api.conftest import TOKENS, api_settings, bearer

OPEN = {"/healthz", "/readyz"}
VALUES = {"model_id": "fraud", "model_version": "7", "feature": "amount",
          "reference_id": "1"}
# Routes with a required query parameter, and a value for it.
QUERIES = {"/v1/models/{model_id}/versions/{model_version}/report/window":
           "?at=2100-01-01T00:00:00Z"}


def read_urls() -> list[str]:
    """Every GET route's path but health's, with the stored fixture's names filled in."""
    engine = make_engine("sqlite://")
    routes = [r for r in create_app(engine, api_settings()).routes
              if isinstance(r, APIRoute) and "GET" in (r.methods or set())]
    engine.dispose()
    return [r.path.format(**VALUES) + QUERIES.get(r.path, "") for r in routes
            if r.path not in OPEN]


READ_URLS = read_urls()


def test_every_read_route_is_listed() -> None:
    assert len(READ_URLS) == 13


@pytest.mark.parametrize("url", READ_URLS)
def test_reads_need_a_read_token(client: TestClient, url: str) -> None:
    missing = client.get(url)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert missing.headers["content-type"] == "application/problem+json"
    assert "'read' scope" in missing.json()["detail"]
    wrong = client.get(url, headers={"Authorization": "Bearer not-a-token"})
    assert wrong.status_code == 401
    assert wrong.json()["detail"] == "the token is not valid"
    write_only = client.get(url, headers=bearer("writer"))
    assert write_only.status_code == 403
    assert write_only.json()["detail"] == "token 'writer' has no 'read' scope"
    for name in ("reader", "admin"):
        assert client.get(url, headers=bearer(name)).status_code == 200, (url, name)


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "Bearer  ", "read-token-1"])
def test_a_malformed_header_is_401(client: TestClient, header: str) -> None:
    answer = client.get("/v1/models", headers={"Authorization": header})
    assert answer.status_code == 401
    assert "Bearer <token>" in answer.json()["detail"]


def test_health_needs_no_token(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200


def test_open_reads_need_no_token_but_a_given_token_must_be_valid(stored: Engine) -> None:
    with TestClient(create_app(stored, api_settings(open_reads=True))) as client:
        for url in READ_URLS:
            assert client.get(url).status_code == 200, url
        assert client.get("/v1/models", headers={"Authorization": "Bearer x"}).status_code == 401


def test_tokens_never_reach_the_logs(client: TestClient, caplog: pytest.LogCaptureFixture
                                     ) -> None:
    caplog.set_level(logging.DEBUG)
    for name in TOKENS:
        client.get("/v1/models", headers=bearer(name))
    client.get("/v1/models", headers={"Authorization": "Bearer not-a-token"})
    text = caplog.text
    assert all(value not in text for value, _ in TOKENS.values())
    assert "not-a-token" not in text
