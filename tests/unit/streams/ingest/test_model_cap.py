"""A flood of new model versions is bounded per worker (``streams.ingest.model_cap``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from store.engine import make_engine
from store.migrate import upgrade
from streams.config.settings import IngestSettings, Settings, load_settings
from streams.decoding.events import RawMessage
from streams.decoding.fastdecode import DecodedColumns, decode_prediction_columns
from streams.ingest.model_cap import ModelCap, refusal
from streams.ingest.service import Ingest
from streams.runtime.metrics import Metrics

NOW = datetime.now(UTC).replace(microsecond=0)
# Three hours ago on a 5-minute window boundary, so that which window an event falls in
# does not depend on the clock.
START = datetime.fromtimestamp((NOW.timestamp() - 3 * 3600) // 300 * 300, UTC)
TOPIC = "driftline.predictions"


def _event(i: int, model: str, version: str = "1", seconds: float | None = None,
           features: int = 2) -> dict[str, Any]:
    at = START + timedelta(seconds=i if seconds is None else seconds)
    return {"event_id": f"e{i}", "model_id": model, "model_version": version,
            "event_time": at.isoformat().replace("+00:00", "Z"),
            "features": {f"f{j}": float(i + j) for j in range(features)},
            "prediction": i % 2, "score": 0.5}


def _messages(events: list[dict[str, Any]], first: int = 0) -> list[RawMessage]:
    return [RawMessage(TOPIC, 0, first + n, e["model_id"].encode(), json.dumps(e).encode())
            for n, e in enumerate(events)]


def _decode(messages: list[RawMessage], ingest: IngestSettings | None = None
            ) -> DecodedColumns:
    return decode_prediction_columns(messages, now=NOW, ingest=ingest or IngestSettings())


def test_versions_beyond_the_cap_are_dead_lettered_with_their_records() -> None:
    # 5 models, 3 events each, interleaved; one version held already, room for 2 more.
    events = [_event(i, f"m{i % 5}") for i in range(15)]
    messages = _messages(events, first=100)
    decoded = _decode(messages)
    cap = ModelCap(3)
    admitted = cap.admit(decoded, messages, held={("m4", "1")})
    assert len(admitted) == 2
    kept = set(decoded.batches)
    assert kept == admitted | {("m4", "1")}
    refused = {(f"m{i}", "1") for i in range(5)} - kept
    assert len(refused) == 2
    letters = decoded.dead_letters
    assert len(letters) == 6 == cap.refused
    assert decoded.n_events == 9
    assert [d.offset for d in letters] == sorted(d.offset for d in letters)
    for letter in letters:
        source = messages[letter.offset - 100]
        event = json.loads(source.value or b"")
        assert (event["model_id"], "1") in refused
        assert (letter.reason, letter.detail) == (
            "too_many_models", refusal(event["model_id"], "1", 3))
        assert (letter.topic, letter.partition, letter.key, letter.value) == (
            source.topic, source.partition, source.key, source.value)


def test_held_versions_pass_at_the_cap_and_a_backfill_counts_like_live_events() -> None:
    messages = _messages([_event(0, "a"), _event(1, "b"), _event(2, "c")])
    decoded = _decode(messages)
    backfill = decoded.batches.pop(("c", "1"))
    decoded.backfill[("c", "1")] = backfill
    assert ModelCap(2).admit(decoded, messages, held={("a", "1"), ("b", "1")}) == set()
    assert set(decoded.batches) == {("a", "1"), ("b", "1")}
    assert decoded.backfill == {}
    assert [d.reason for d in decoded.dead_letters] == ["too_many_models"]


def test_a_long_model_id_is_cut_in_the_detail() -> None:
    detail = refusal("x" * 128, "v" * 128, 50)
    assert "x" * 100 + "'" in detail
    assert "x" * 101 not in detail
    assert "v" * 101 not in detail


def _ingest(tmp_path: Path, **environ: str) -> Ingest:
    url = f"sqlite:///{tmp_path}/w.db"
    upgrade(url)
    # The first window is the reference: a version still gathering one is held.
    settings: Settings = load_settings(None, {
        "DRIFTLINE_MODELS__DEFAULT__THRESHOLDS__MIN_REFERENCE_ROWS": "0", **environ})
    ingest = Ingest(settings, make_engine(url), Metrics(CollectorRegistry()))
    ingest.restore([0])
    return ingest


def _run(ingest: Ingest, events: list[dict[str, Any]], first: int) -> None:
    """Admit, apply and store a batch as the worker does."""
    messages = _messages(events, first)
    decoded = _decode(messages)
    ingest.admit(decoded, messages)
    closed = ingest.apply(0, decoded, first + len(events))
    closed += [(s, c) for s, cs in ingest.tick() for c in cs]
    state = ingest.partitions[0]
    job = ingest.prepare(closed, [state])
    ingest.write(job)
    ingest.finish(job)


def _silence(ingest: Ingest) -> None:
    """Make every held version silent for longer than its idle_timeout."""
    for model in ingest.partitions[0].models.values():
        model.last_event_at -= 10 * model.rules.idle_timeout


def test_a_silent_stored_version_is_let_go_of_and_continues_after_its_last_window(
        tmp_path: Path) -> None:
    ingest = _ingest(tmp_path, DRIFTLINE_INGEST__MAX_MODELS="2")
    _run(ingest, [_event(i, "a") for i in range(10)] + [_event(10, "b")], 0)
    assert ingest.held() == {("a", "1"), ("b", "1")}
    _run(ingest, [_event(11, "c")], 11)  # no room: dead-lettered, not held
    assert ingest.held() == {("a", "1"), ("b", "1")}
    _silence(ingest)
    _run(ingest, [], 12)  # idle: the windows close and are stored, still held
    assert ingest.held() == {("a", "1"), ("b", "1")}
    assert all(not m.windows for m in ingest.partitions[0].models.values())
    _silence(ingest)
    ingest.tick()  # stored and silent: let go of
    assert ingest.held() == set()
    # "a" returns with an event inside its stored window: late, not a second window there.
    _run(ingest, [_event(12, "a", seconds=5)], 12)
    (model,) = ingest.partitions[0].models.values()
    assert model.n_late == 1
    assert model.windows == {}
    assert ingest.metrics.registry.get_sample_value(
        "driftline_events_total", {"model": "a", "outcome": "late"}) == 1
    _run(ingest, [_event(13, "c")], 13)  # room again
    assert ingest.held() == {("a", "1"), ("c", "1")}


def test_a_version_gathering_its_reference_is_held(tmp_path: Path) -> None:
    ingest = _ingest(tmp_path, DRIFTLINE_MODELS__DEFAULT__THRESHOLDS__MIN_REFERENCE_ROWS="100")
    _run(ingest, [_event(i, "a") for i in range(10)], 0)
    _silence(ingest)
    _run(ingest, [], 1)  # idle: the window closes and is stored, 10 of 100 rows gathered
    (model,) = ingest.partitions[0].models.values()
    assert not model.windows
    assert model.gathering is not None
    assert model.gathering.n_seen == 10
    _silence(ingest)
    ingest.tick()  # silent and stored, but its gathered rows would be lost: held
    assert ingest.held() == {("a", "1")}


def test_versions_gathering_their_reference_do_not_keep_the_others_out(
        tmp_path: Path) -> None:
    for cap, held in (("3", {("a", "1"), ("b", "1")}), ("2", set())):
        (tmp_path / cap).mkdir()
        ingest = _ingest(tmp_path / cap, DRIFTLINE_INGEST__MAX_MODELS=cap,
                         DRIFTLINE_MODELS__DEFAULT__THRESHOLDS__MIN_REFERENCE_ROWS="100")
        _run(ingest, [_event(0, "a"), _event(1, "b")], 0)  # a few events each, then quiet
        _silence(ingest)
        _run(ingest, [], 2)  # their windows close and are stored; both still gathering
        _silence(ingest)
        ingest.tick()
        # With room in the cap they are held; with the cap full they are let go of.
        assert ingest.held() == held, cap
        _run(ingest, [_event(2, "c")], 2)
        assert ("c", "1") in ingest.held()


def test_a_version_with_an_unstored_closed_window_is_held(tmp_path: Path) -> None:
    ingest = _ingest(tmp_path)
    messages = _messages([_event(0, "a")])
    decoded = _decode(messages)
    ingest.admit(decoded, messages)
    ingest.apply(0, decoded, 1)
    _silence(ingest)
    closed = [c for _, cs in ingest.tick() for c in cs]
    assert len(closed) == 1
    _silence(ingest)
    ingest.tick()
    assert ingest.held() == {("a", "1")}  # its window is not stored yet
    state = ingest.partitions[0]
    job = ingest.prepare([(state, c) for c in closed], [state])
    ingest.write(job)
    ingest.finish(job)
    ingest.tick()
    assert ingest.held() == set()


def _series(ingest: Ingest) -> set[tuple[str, str]]:
    registry = ingest.metrics.registry
    return {(s.labels["model"], s.labels["version"]) for m in registry.collect()
            for s in m.samples if "version" in s.labels}


def test_versions_with_series_stay_within_the_cap(tmp_path: Path) -> None:
    ingest = _ingest(tmp_path, DRIFTLINE_INGEST__MAX_MODELS="3")
    for n in range(10):  # ten models one after the other, each let go of when done
        _run(ingest, [_event(100 * n + i, f"m{n}") for i in range(5)], 10 * n)
        _silence(ingest)
        _run(ingest, [], 10 * n + 5)
        _silence(ingest)
        ingest.tick()
        assert len(_series(ingest)) <= 3
    assert _series(ingest) == {("m7", "1"), ("m8", "1"), ("m9", "1")}
    models = {s.labels.get("model") for m in ingest.metrics.registry.collect()
              for s in m.samples} - {None}
    assert models == {"m7", "m8", "m9"}  # the per-model series went with the versions


def test_per_feature_series_are_capped_per_version(tmp_path: Path) -> None:
    ingest = _ingest(tmp_path, DRIFTLINE_INGEST__MAX_METRIC_FEATURES="3")
    _run(ingest, [_event(i, "a", features=8) for i in range(50)], 0)
    _silence(ingest)
    _run(ingest, [], 50)
    registry = ingest.metrics.registry
    features = {s.labels["feature"] for m in registry.collect() for s in m.samples
                if "feature" in s.labels}
    assert features == {"f0", "f1", "f2", "prediction", "score"}
    assert registry.get_sample_value("driftline_windows_closed_total",
                                     {"model": "a", "version": "1"}) == 1


def test_a_restarted_worker_holds_the_restored_versions_then_lets_them_go(
        tmp_path: Path) -> None:
    ingest = _ingest(tmp_path, DRIFTLINE_INGEST__MAX_MODELS="1")
    _run(ingest, [_event(i, "a") for i in range(5)], 0)
    again = _ingest(tmp_path, DRIFTLINE_INGEST__MAX_MODELS="1")  # the same database
    assert again.held() == {("a", "1")}
    _run(again, [_event(5, "b")], 5)  # the restored version fills the cap
    assert again.held() == {("a", "1")}
    _silence(again)
    _run(again, [], 6)  # its open window closes and is stored
    _silence(again)
    again.tick()
    assert again.held() == set()


def test_a_set_aside_window_that_completed_the_gathering_leaves_its_rows_to_the_next(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ingest = _ingest(tmp_path, DRIFTLINE_MODELS__DEFAULT__THRESHOLDS__MIN_REFERENCE_ROWS="10")
    save = ingest._save_window
    refused: list[float] = []

    def refuse_first(conn: Any, done: Any) -> Any:
        if done.closed.gathered is not None and not refused:
            refused.append(done.closed.window.start)
            raise ValueError("refused for good")  # store.errors: permanent
        return save(conn, done)

    monkeypatch.setattr(ingest, "_save_window", refuse_first)
    _run(ingest, [_event(i, "a") for i in range(12)], 0)
    _silence(ingest)
    _run(ingest, [], 12)  # the window (12 events) completes the gathering: set aside
    (model,) = ingest.partitions[0].models.values()
    assert refused
    assert model.reference is None
    assert model.gathering is not None
    assert model.gathering.n_seen == 12
    assert not model.gathered
    _run(ingest, [_event(100 + i, "a", seconds=400 + i) for i in range(3)], 12)
    _silence(ingest)
    _run(ingest, [], 15)  # the next window completes it again: the reference is made
    assert model.reference is not None
    assert model.reference.profile.n_rows == 15


def test_a_version_first_seen_while_the_database_is_down_waits_for_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from sqlalchemy.exc import OperationalError

    ingest = _ingest(tmp_path)
    new_model = ingest._new_model
    attempts: list[bool] = []
    problems: list[list[str]] = []

    def down_twice(model_id: str, version: str) -> Any:
        attempts.append(True)
        if len(attempts) <= 2:
            raise OperationalError("connect", {}, ConnectionRefusedError("refused"))
        problems.append(ingest.health.problems())  # unready while it failed
        return new_model(model_id, version)

    monkeypatch.setattr(ingest, "_new_model", down_twice)
    monkeypatch.setattr(asyncio, "sleep", _no_wait)  # the backoff, not its length
    messages = _messages([_event(0, "a")])
    decoded = _decode(messages)
    asyncio.run(ingest.load_models(0, decoded))  # retried: no exception reaches the loop
    assert len(attempts) == 3
    assert any("database" in p for p in problems[0])
    assert ingest.held() == {("a", "1")}
    ingest.apply(0, decoded, 1)  # finds the state loaded: no database access here
    assert len(attempts) == 3
    assert ingest.health.problems() == []


async def _no_wait(seconds: float) -> None:
    return None
