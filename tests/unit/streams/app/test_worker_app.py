"""The worker app's services: the alert dispatcher starts before anything that stores windows."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from streams.alerts.service import AlertService
from streams.app.worker import IngestService, create_app
from streams.config.settings import load_settings
from streams.labels.batched import BatchedConsumer

CONFIG = """\
alerting:
  receivers:
    hook: {type: webhook, url: "http://127.0.0.1:9/alerts",
           signing_secret: whsec_ZXhhbXBsZS1zZWNyZXQta2V5}
  rules:
    - {name: psi, metric: feature.psi, above: 0.25, receivers: [hook]}
"""


def test_the_alert_service_starts_before_the_ingest_and_the_other_consumers(
        tmp_path: Path) -> None:
    """Faust starts ``app.service`` classes one after another in registration order
    (``App.on_started_init_extra_services``), and each consumer's start waits for its
    group coordinator. Registered after them, the dispatcher was not yet listening
    when the first windows were stored, and their alerts waited seconds for it."""
    path = tmp_path / "driftline.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    settings = load_settings(path, environ={
        "DRIFTLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'driftline.db'}"})
    app, _ = create_app(settings, CollectorRegistry(), datadir=str(tmp_path / "faust"))
    started = list(app._extra_services)
    first = started[0]
    assert isinstance(first, type)
    assert issubclass(first, AlertService)
    rest = [s for s in started[1:] if isinstance(s, type)]
    assert any(issubclass(s, IngestService) for s in rest)
    assert sum(issubclass(s, BatchedConsumer) for s in rest) == 3
    assert not any(issubclass(s, AlertService) for s in rest)


def test_the_web_server_listens_on_worker_web_host_only(tmp_path: Path) -> None:
    """Faust listens on ``web_bind`` (every interface unless set) and only names
    ``web_host`` in links: both follow ``worker.web_host``, loopback by default."""
    for environ, host in [({}, "127.0.0.1"), ({"DRIFTLINE_WORKER__WEB_HOST": "0.0.0.0"},
                                              "0.0.0.0")]:
        settings = load_settings(None, environ={
            **environ, "DRIFTLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'driftline.db'}"})
        app, _ = create_app(settings, CollectorRegistry(), datadir=str(tmp_path / "faust"))
        assert (app.conf.web_bind, app.conf.web_host) == (host, host)
