"""``WorkerApp``: the worker's Faust app, with two changes to Faust's own.

- **No Faust pages.** Its web server is built with none of Faust's blueprints
  (``/router/...``, ``/table/...``, the index or statistics at ``/``,
  ``/assignment/``, ``/graph/``, ``/performance/``), so it serves only the pages
  the worker adds (``streams.app.web``); the rest answer 404.
- **No service started after a stop.** Faust starts the ``app.service`` classes
  one after another, each waiting for its consumer group (seconds). A worker
  stopped meanwhile (Ctrl-C, SIGTERM during start-up) stopped the services
  started so far, then went on starting the rest, which nothing stopped: their
  Kafka clients were left open when the event loop closed (asyncio's "Unclosed
  AIOKafkaProducer" errors). A service whose turn comes after the stop is now
  not started.

mode names a service's logger after its class's module; these log under
``faust``, so their start and stop lines are quieted with Faust's
(``streams.runtime.logs``).
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import faust
from faust.web import drivers as web_drivers
from faust.web.base import Web
from mode import ServiceT


class WorkerApp(faust.App):
    """A Faust app whose web server serves only the pages the worker adds."""

    # A logger mode did not name itself (it would replace it): see the module docstring.
    logger = logging.getLogger("faust.app.worker_app")

    def _new_web(self) -> Web:
        driver: type[Web] = web_drivers.by_url(self.conf.web)

        class PagesOnly(driver):  # type: ignore[valid-type,misc]
            logger = logging.getLogger("faust.web.pages_only")
            default_blueprints: ClassVar[list[Any]] = []
            production_blueprints: ClassVar[list[Any]] = []
            debug_blueprints: ClassVar[list[Any]] = []
            optional_blueprints: ClassVar[list[Any]] = []

        web: Web = PagesOnly(self)
        return web

    async def on_init_extra_service(self, service: ServiceT | type[ServiceT]) -> ServiceT:
        if self.should_stop:  # stopped before this service's turn: leave it unstarted
            return self._prepare_subservice(service)
        started: ServiceT = await super().on_init_extra_service(service)
        return started
