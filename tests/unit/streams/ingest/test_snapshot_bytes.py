"""A partition checkpoint's bytes hold the same JSON document ``json.dumps`` wrote, and restore."""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry

from store.engine import make_engine
from store.migrate import upgrade
from streams.config.settings import load_settings
from streams.decoding.events import RawMessage
from streams.ingest.service import Ingest, pack_snapshot
from streams.runtime.metrics import Metrics


def _events(n: int, start: datetime) -> list[bytes]:
    rng = np.random.default_rng(5)
    amounts = np.round(rng.lognormal(3, 1, n), 2).tolist()
    scores = rng.random(n).tolist()  # full-precision floats stay float64 in the samples
    out = []
    for i in range(n):
        features: dict[str, Any] = {"amount": amounts[i], "country": ["DE", "FR", "ÅL"][i % 3],
                                    "visits": i % 7, "flag": i % 2 == 0}
        if i % 11 == 0:
            features["amount"] = None  # a missing value
        out.append(json.dumps({
            "event_id": f"e{i}", "model_id": "fraud", "model_version": "3",
            "event_time": (start + timedelta(milliseconds=10 * i)).isoformat(),
            "prediction_id": f"p{i}", "features": features,
            "prediction": int(scores[i] > 0.5), "score": scores[i]}).encode())
    return out


def _ingest(url: str) -> Ingest:
    ingest = Ingest(load_settings(None, {}), make_engine(url), Metrics(CollectorRegistry()))
    ingest.restore([0])
    return ingest


def test_checkpoint_json_is_the_documents_json_and_restores(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    upgrade(url)
    first = _ingest(url)
    values = _events(3_000, datetime.now(UTC) - timedelta(minutes=2))
    messages = [RawMessage("driftline.predictions", 0, i, b"fraud", v, 1)
                for i, v in enumerate(values)]
    decoded = first.decode(messages)
    assert decoded.n_events == len(values)
    assert not decoded.dead_letters
    first.apply(0, decoded, len(values))
    state = first.partitions[0].snapshot_state()
    assert state["models"], "the partition holds an open window"

    packed = pack_snapshot(state)
    assert json.loads(zlib.decompress(packed)) == json.loads(json.dumps(state, allow_nan=False))

    job = first.prepare([], [first.partitions[0]])
    first.write(job)
    first.finish(job)
    first.engine.dispose()
    restarted = _ingest(url)
    assert restarted.partitions[0].next_offset == len(values)
    assert json.loads(zlib.decompress(restarted.partitions[0].snapshot())) == \
        json.loads(json.dumps(state))
    restarted.engine.dispose()
