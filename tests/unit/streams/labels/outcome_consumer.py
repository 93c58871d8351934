"""An ``OutcomeService`` driven by hand, for the label metric tests."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from prometheus_client import CollectorRegistry
from sqlalchemy.engine import Engine

from streams.config.settings import load_settings
from streams.labels.bundles import OutcomeBundle, encode
from streams.labels.join import Outcome
from streams.labels.outcome_service import OutcomeService
from streams.runtime.metrics import Metrics

MODEL = {"model": "fraud", "version": "1"}


class Consumer:
    """An ``OutcomeService`` on partition 0, fed bundles and checkpointed by hand."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.registry = CollectorRegistry()
        self.service = OutcomeService(load_settings(None, {}), engine, Metrics(self.registry),
                                      "outcomes")
        self.service.restore_state(0, None)
        self.offset = 0

    def feed(self, rows: list[Outcome]) -> None:
        offsets = list(range(self.offset, self.offset + len(rows)))
        self.offset += len(rows)
        bundle = OutcomeBundle(0, self.offset, offsets, rows)
        asyncio.run(self.service.handle(0, [SimpleNamespace(value=encode(bundle))]))

    def checkpoint(self) -> None:
        with self.engine.begin() as conn:
            self.service.write(conn, [0])
        self.service.stored_ok([0])

    def value(self, name: str, **labels: str) -> float | None:
        return self.registry.get_sample_value(name, labels)

    def performance(self, metric: str) -> float | None:
        return self.value("driftline_model_performance", **MODEL, metric=metric)
