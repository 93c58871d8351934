"""Receivers and dispatch settings: literal, _env and _file secrets, one-line errors, no leaks."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from alerting.config import PAGERDUTY_URL, parse_dispatch, parse_receivers
from alerting.model import AlertingConfigError
from alerting.receivers import DispatchSettings, Secret

SLACK_URL = "https://hooks.slack.com/services/T000/B000/SLACKSECRET4242"
SIGNING = "whsec_" + base64.b64encode(b"SIGNINGSECRET-0123456789abcdef").decode()
ROUTING = "PDROUTINGSECRET4242"
SECRETS = ("SLACKSECRET4242", SIGNING, SIGNING.removeprefix("whsec_"), ROUTING)
ENVIRON = {"SLACK_WEBHOOK_URL": SLACK_URL, "AUDIT_SIGNING_SECRET": SIGNING,
           "PAGERDUTY_ROUTING_KEY": ROUTING, "EMPTY": "  ",
           "BAD_SECRET": "not-base64-SLACKSECRET4242!", "BAD_URL": "ftp://files/SLACKSECRET4242",
           "NO_SCHEME": "hooks.slack.com/services/SLACKSECRET4242"}


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_env_file_and_literal_secrets(tmp_path: Path) -> None:
    secret_file = tmp_path / "deployer"
    secret_file.write_text(f"{SIGNING}\n", encoding="utf-8")
    url_file = tmp_path / "slack_url"
    url_file.write_text(f"  {SLACK_URL}\n", encoding="utf-8")
    receivers = parse_receivers({
        "oncall-slack": {"type": "slack", "url_env": "SLACK_WEBHOOK_URL"},
        "slack-2": {"type": "slack", "url_file": str(url_file), "timeout": "250ms"},
        "pagerduty": {"type": "pagerduty", "routing_key_env": "PAGERDUTY_ROUTING_KEY"},
        "audit": {"type": "webhook", "url": "https://audit.example/hooks",
                  "signing_secret_env": "AUDIT_SIGNING_SECRET", "timeout": "1m"},
        "deployer": {"type": "deployer", "url": "http://deployer:8080/retrain",
                     "signing_secret_file": str(secret_file), "timeout": 3},
    }, ENVIRON)
    assert list(receivers) == ["oncall-slack", "slack-2", "pagerduty", "audit", "deployer"]
    assert receivers["oncall-slack"].url.reveal() == SLACK_URL
    assert receivers["oncall-slack"].timeout == 10.0
    assert receivers["slack-2"].url.reveal() == SLACK_URL
    assert receivers["slack-2"].timeout == 0.25
    assert receivers["pagerduty"].url.reveal() == PAGERDUTY_URL
    assert receivers["pagerduty"].routing_key == Secret(ROUTING)
    assert receivers["audit"].signing_secret == Secret(SIGNING)
    assert receivers["audit"].url.reveal() == "https://audit.example/hooks"
    assert receivers["audit"].timeout == 60.0
    assert receivers["deployer"].signing_secret == Secret(SIGNING)
    assert receivers["deployer"].timeout == 3.0
    assert_no_secret(repr(receivers))
    assert_no_secret(str(receivers))


def test_literal_routing_key_and_pagerduty_url_override() -> None:
    receivers = parse_receivers({"pd": {"type": "pagerduty", "routing_key": ROUTING,
                                        "url": "http://127.0.0.1:9999/v2/enqueue"}}, {})
    assert receivers["pd"].routing_key == Secret(ROUTING)
    assert receivers["pd"].url.reveal() == "http://127.0.0.1:9999/v2/enqueue"
    assert parse_receivers(None, {}) == {}


BAD: list[tuple[str, Any, str]] = [
    ("unset variable", {"x": {"type": "slack", "url_env": "NOPE"}},
     "alerting.receivers.x.url_env: environment variable 'NOPE' is not set or empty"),
    ("empty variable", {"x": {"type": "slack", "url_env": "EMPTY"}}, "x.url_env"),
    ("url not http", {"x": {"type": "slack", "url_env": "BAD_URL"}},
     "x.url_env (from variable BAD_URL): must be an http(s) URL with a host, got ftp://files"),
    ("url without scheme", {"x": {"type": "slack", "url_env": "NO_SCHEME"}},
     "got a value without a scheme"),
    ("literal url not http", {"x": {"type": "slack", "url": "file:///SLACKSECRET4242"}},
     "x.url: must be an http(s) URL"),
    ("bad signing secret", {"x": {"type": "webhook", "url": "https://a.example/h",
                                  "signing_secret_env": "BAD_SECRET"}},
     "x.signing_secret_env (from variable BAD_SECRET): must be 'whsec_'"),
    ("bare base64 secret", {"x": {"type": "webhook", "url": "https://a.example/h",
                                  "signing_secret": SIGNING.removeprefix("whsec_")}},
     "x.signing_secret: must be 'whsec_'"),
    ("missing secret", {"x": {"type": "deployer", "url": "https://a.example/h"}},
     "x: missing signing_secret (give signing_secret, signing_secret_env or "
     "signing_secret_file)"),
    ("missing url", {"x": {"type": "slack"}}, "x: missing url"),
    ("two forms", {"x": {"type": "slack", "url": SLACK_URL, "url_env": "SLACK_WEBHOOK_URL"}},
     "x: give only one of url, url_env"),
    ("unknown type", {"x": {"type": "teams", "url": SLACK_URL}},
     "x.type: must be one of slack, pagerduty, webhook, deployer, got 'teams'"),
    ("unknown key", {"x": {"type": "slack", "url": SLACK_URL, "channel": "#ops"}},
     "x: unknown key 'channel' for a slack receiver"),
    ("key of another type", {"x": {"type": "slack", "url": SLACK_URL, "routing_key": ROUTING}},
     "unknown key 'routing_key'"),
    ("bad name", {"On-Call": {"type": "slack", "url": SLACK_URL}},
     "receiver name must match [a-z0-9][a-z0-9_.-]*, got 'On-Call'"),
    ("bad timeout", {"x": {"type": "slack", "url": SLACK_URL, "timeout": "0s"}},
     "x.timeout: must be a duration in (0, 10m]"),
    ("non-string secret", {"x": {"type": "pagerduty", "routing_key": 4242}},
     "x.routing_key: must be a non-empty string"),
    ("not a mapping", {"x": "slack"}, "alerting.receivers.x: must be a mapping"),
    ("missing file", {"x": {"type": "slack", "url_file": "/nonexistent/slack_url"}},
     "x.url_file: cannot read '/nonexistent/slack_url'"),
]


@pytest.mark.parametrize(("case", "raw", "expected"), BAD, ids=[case[0] for case in BAD])
def test_errors_are_one_line_name_the_key_and_hide_secrets(case: str, raw: Any,
                                                           expected: str) -> None:
    with pytest.raises(AlertingConfigError) as caught:
        parse_receivers(raw, ENVIRON)
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message
    assert message.startswith("alerting.receivers")
    assert caught.value.path.startswith("alerting.receivers.")
    assert_no_secret(message)
    assert_no_secret(repr(caught.value))
    assert caught.value.__cause__ is None


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(AlertingConfigError, match=r"x\.url_file: file .* is empty"):
        parse_receivers({"x": {"type": "slack", "url_file": str(empty)}}, {})


def test_dispatch_defaults_and_values() -> None:
    assert parse_dispatch(None) == DispatchSettings()
    settings = parse_dispatch({"max_attempts": 3, "base_delay": "50ms", "max_delay": "1m",
                               "batch": 1000, "lease": 30, "poll_interval": "0.25"})
    assert settings == DispatchSettings(max_attempts=3, base_delay=0.05, max_delay=60.0,
                                        batch=1000, lease=30.0, poll_interval=0.25)


@pytest.mark.parametrize(("raw", "expected"), [
    ({"max_attempts": 0}, "alerting.dispatch.max_attempts: must be an integer in [1, 100], got 0"),
    ({"max_attempts": True}, "max_attempts: must be an integer in [1, 100], got True"),
    ({"batch": 1001}, "alerting.dispatch.batch: must be an integer in [1, 1000], got 1001"),
    ({"lease": "0s"}, "alerting.dispatch.lease: must be a duration > 0"),
    ({"poll_interval": "soon"}, "alerting.dispatch.poll_interval: must be a duration > 0 such "
                                "as 250ms, 10s or 1m, got 'soon'"),
    ({"base_delay": "10m", "max_delay": "1m"},
     "alerting.dispatch.base_delay: must be <= max_delay (60s), got 600s"),
    ({"retries": 3}, "alerting.dispatch: unknown key 'retries'"),
])
def test_dispatch_errors(raw: dict[str, Any], expected: str) -> None:
    with pytest.raises(AlertingConfigError) as caught:
        parse_dispatch(raw)
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)
    assert caught.value.path.startswith("alerting.dispatch.")
