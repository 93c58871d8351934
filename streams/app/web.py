"""The worker's web server: ``/metrics``, ``/healthz`` and ``/readyz``, and nothing else.

Faust's web server serves pages of its own by default: ``/router/`` (with
``/router/topics``, ``/router/{table}/`` and ``/router/{table}/{key}/``: the
cluster's routing and every worker's URL), ``/table/`` (with
``/table/{name}/`` and ``/table/{name}/{key}/``: table contents) and ``/`` (a
production index); with ``debug`` on, ``/`` serves sensor statistics, plus
``/assignment/`` and ``/graph/``; ``/performance/`` when enabled. driftline has
no Faust tables and no use for these, and they describe the worker's insides to
anyone who can reach the port, so ``WorkerApp`` builds its web server with none
of Faust's blueprints (``streams.app.worker_app``): every path but the three pages
below answers 404, whatever Faust's settings or ``APP_WEB_*`` variables say.

``/healthz`` and ``/readyz`` answer JSON from ``streams.runtime.health``: 200 when
healthy (ready), 503 otherwise, with the reasons in the body.
"""

from __future__ import annotations

from typing import Any

import faust
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from streams.runtime.health import Health

UNHEALTHY = 503


def add_pages(app: faust.App, registry: CollectorRegistry, health: Health) -> None:
    """``/metrics`` from ``registry``; ``/healthz`` and ``/readyz`` from ``health``."""

    @app.page("/metrics")
    async def metrics_page(view: Any, request: Any) -> Any:
        # ``?name[]=a&name[]=b`` answers with those series only, as prometheus_client's own
        # server does: a reader of one counter does not pay for the 1,000 drift series.
        names = request.query.getall("name[]", [])
        chosen = registry.restricted_registry(names) if names else registry
        # aiohttp refuses a charset in content_type, so the header is set directly.
        return view.bytes(generate_latest(chosen), headers={"Content-Type": CONTENT_TYPE_LATEST})

    @app.page("/healthz")
    async def health_page(view: Any, request: Any) -> Any:
        ok, body = health.live()
        return view.json(body, status=200 if ok else UNHEALTHY)

    @app.page("/readyz")
    async def ready_page(view: Any, request: Any) -> Any:
        ok, body = health.ready()
        return view.json(body, status=200 if ok else UNHEALTHY)
