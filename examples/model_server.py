"""An example model server that reports to driftline through the producer client.

It trains a small scikit-learn classifier (credit default, on synthetic data),
then serves requests in a loop: each request is scored by ``ModelServer.predict``
(the handler an HTTP route would call), and each prediction is published with
``client.EventProducer`` (topic ``driftline.predictions``, key = model id).
The truth of a request is known later: its label is published
``--label-lag`` requests afterwards (topic ``driftline.labels``, key =
prediction id), and a share of them (``1 - --label-share``) never comes. With
``--drift-after N`` the applicants' incomes drop and their debt ratios rise
from request N on: data drift for the worker to find. Request ids (the
prediction ids) are ``<run>-<n>``, with a random run id, so two runs never
share one.

Run (from the repository root, with driftline's environment)::

    driftline broker --port 9092                     # terminal 1: the embedded broker
    DRIFTLINE_MODELS__DEFAULT__WINDOW__SIZE=20s driftline worker   # terminal 2
    python examples/model_server.py --requests 9000 --rate 100 --drift-after 4500
    driftline windows credit                         # the windows the worker stored

The worker creates the topics and monitors the model in 20-second windows (5
minutes by default); the server sends 100 requests a second for 90 seconds.

Without a worker, ``--create-topics`` creates driftline's topics first (the
embedded broker does not create topics on first use).

``--history DIR`` serves the requests of the past instead and writes what the
server would have sent as JSON Lines, ``DIR/predictions.jsonl`` and
``DIR/labels.jsonl``: the first request ``--days-ago`` days ago, one every
``--every`` seconds of event time, each label ``--label-delay`` seconds after
its prediction. ``driftline backfill`` sends them (docs/backfill.md)::

    python examples/model_server.py --history history --days-ago 30 --every 60 \
        --requests 43200 --drift-after 30000       # a month, one request a minute
    driftline backfill history/predictions.jsonl history/labels.jsonl
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression

from client import LABELS_TOPIC, PREDICTIONS_TOPIC, EventProducer

MODEL_ID = "credit"
NUMERIC = ("income", "debt_ratio", "age", "open_loans")
REGIONS = ("north", "south", "east", "west")


@dataclass(frozen=True)
class Applicant:
    """One request: the features a model server receives, and the truth it learns later."""

    request_id: str
    features: dict[str, Any]
    defaulted: int


def applicants(rng: np.random.Generator, n: int, start: int = 0,
               drift_after: int | None = None, run: str = "req") -> list[Applicant]:
    """``n`` synthetic applicants; from index ``drift_after`` on, incomes are lower."""
    index = np.arange(start, start + n)
    shifted = np.zeros(n, dtype=bool) if drift_after is None else index >= drift_after
    income = rng.lognormal(10.6, 0.4, n) * np.where(shifted, 0.6, 1.0)
    debt = rng.gamma(2.0, 0.12, n) * np.where(shifted, 1.5, 1.0)
    age = rng.integers(21, 75, n)
    loans = rng.poisson(2.0, n)
    region = rng.choice(len(REGIONS), n, p=[0.4, 0.25, 0.2, 0.15])
    logit = (-1.0 - 1.2 * (np.log(income) - 10.6) + 4.0 * (debt - 0.24)
             - 0.02 * (age - 45) + 0.25 * (loans - 2) + 0.3 * (region == 1))
    defaulted = rng.random(n) < 1 / (1 + np.exp(-logit))
    return [Applicant(f"{run}-{i}", {"income": round(float(income[k]), 2),
                                   "debt_ratio": round(float(debt[k]), 4),
                                   "age": int(age[k]), "open_loans": int(loans[k]),
                                   "region": REGIONS[region[k]]},
                      int(defaulted[k]))
            for k, i in enumerate(index.tolist())]


def design_matrix(rows: Sequence[dict[str, Any]]) -> NDArray[np.float64]:
    """The model's inputs: log income, the other numbers, and the region one-hot."""
    numeric = np.array([[np.log(r["income"]), r["debt_ratio"], r["age"], r["open_loans"]]
                        for r in rows], dtype=np.float64)
    regions = np.array([[float(r["region"] == name) for name in REGIONS] for r in rows])
    return np.hstack([numeric, regions])


class ModelServer:
    """A trained model and the handler that serves it."""

    def __init__(self, seed: int, training_rows: int = 5_000) -> None:
        train = applicants(np.random.default_rng(seed), training_rows, start=-training_rows)
        self.model = LogisticRegression(max_iter=1_000)
        self.model.fit(design_matrix([a.features for a in train]), [a.defaulted for a in train])

    def predict(self, features: dict[str, Any]) -> tuple[int, float]:
        """(the predicted class, the probability of default) of one request."""
        score = float(self.model.predict_proba(design_matrix([features]))[0, 1])
        return int(score >= 0.5), score


def serve(args: argparse.Namespace) -> int:
    server = ModelServer(args.seed)
    rng = np.random.default_rng(args.seed + 1)
    label_rng = np.random.default_rng(args.seed + 2)
    pending: deque[Applicant] = deque()
    predictions = labels = correct = 0
    interval = 1 / args.rate if args.rate > 0 else 0.0
    started = time.monotonic()
    with EventProducer(args.bootstrap, predictions_topic=args.predictions_topic,
                       labels_topic=args.labels_topic) as events:
        try:
            for applicant in applicants(rng, args.requests, drift_after=args.drift_after,
                                        run=uuid.uuid4().hex[:8]):
                prediction, score = server.predict(applicant.features)
                sent = events.send_prediction(
                    args.model_id, applicant.features, prediction=prediction,
                    score=score, prediction_id=applicant.request_id,
                    model_version=args.model_version)
                if predictions == 0:
                    print("first prediction event:", msgspec.json.encode(sent).decode(),
                          flush=True)
                predictions += 1
                correct += prediction == applicant.defaulted
                if label_rng.random() < args.label_share:
                    pending.append(applicant)
                while len(pending) > args.label_lag:
                    labels += _label(events, args.model_id, pending.popleft())
                if predictions % args.report_every == 0:
                    print(f"served {predictions} predictions, sent {labels} labels", flush=True)
                if interval:  # pacing the simulated traffic, not waiting for anything
                    time.sleep(max(0.0, started + predictions * interval - time.monotonic()))
        except KeyboardInterrupt:
            print("interrupted: sending the labels known so far", flush=True)
        while pending:
            labels += _label(events, args.model_id, pending.popleft())
    accuracy = correct / predictions if predictions else float("nan")
    print(f"done: {predictions} predictions and {labels} labels of model {args.model_id} "
          f"sent to {args.bootstrap} (accuracy on the served traffic {accuracy:.3f})",
          flush=True)
    return 0


def write_history(args: argparse.Namespace) -> int:
    """The past's requests as the JSON Lines files ``driftline backfill`` reads."""
    server = ModelServer(args.seed)
    rng = np.random.default_rng(args.seed + 1)
    label_rng = np.random.default_rng(args.seed + 2)
    start = (datetime.now(UTC) - timedelta(days=args.days_ago)).replace(second=0, microsecond=0)
    folder = Path(args.history)
    folder.mkdir(parents=True, exist_ok=True)
    predictions = labels = 0
    with (folder / "predictions.jsonl").open("wb") as served, \
            (folder / "labels.jsonl").open("wb") as learned:
        for n, applicant in enumerate(applicants(rng, args.requests,
                                                 drift_after=args.drift_after, run="history")):
            moment = start + timedelta(seconds=n * args.every)
            prediction, score = server.predict(applicant.features)
            served.write(msgspec.json.encode({
                "event_id": f"{applicant.request_id}-p", "model_id": args.model_id,
                "model_version": args.model_version, "event_time": _rfc3339(moment),
                "prediction_id": applicant.request_id, "features": applicant.features,
                "prediction": prediction, "score": score}) + b"\n")
            predictions += 1
            if label_rng.random() < args.label_share:
                learned.write(msgspec.json.encode({
                    "prediction_id": applicant.request_id, "model_id": args.model_id,
                    "label": applicant.defaulted,
                    "event_time": _rfc3339(moment + timedelta(seconds=args.label_delay))})
                    + b"\n")
                labels += 1
    end = start + timedelta(seconds=max(predictions - 1, 0) * args.every)
    print(f"wrote {predictions} predictions and {labels} labels of model {args.model_id} "
          f"from {_rfc3339(start)} to {_rfc3339(end)} into {folder}/", flush=True)
    return 0


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _label(events: EventProducer, model_id: str, applicant: Applicant) -> int:
    events.send_label(model_id, applicant.request_id, applicant.defaulted)
    return 1


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python examples/model_server.py",
                                     description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092", help="Kafka bootstrap servers")
    parser.add_argument("--model-id", default=MODEL_ID)
    parser.add_argument("--model-version", default="1")
    parser.add_argument("--requests", type=int, default=3_000, help="requests to serve")
    parser.add_argument("--rate", type=float, default=100.0,
                        help="requests per second (0: as fast as possible)")
    parser.add_argument("--label-lag", type=int, default=200,
                        help="a label is sent this many requests after its prediction")
    parser.add_argument("--label-share", type=float, default=0.9,
                        help="share of the predictions whose label ever comes")
    parser.add_argument("--drift-after", type=int, default=None,
                        help="incomes drop from this request on (data drift)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--report-every", type=int, default=500)
    parser.add_argument("--predictions-topic", default=PREDICTIONS_TOPIC)
    parser.add_argument("--labels-topic", default=LABELS_TOPIC)
    parser.add_argument("--create-topics", action="store_true",
                        help="create driftline's topics first (when no worker has yet)")
    parser.add_argument("--history", metavar="DIR", default=None,
                        help="write the past's requests to DIR as JSON Lines, send nothing")
    parser.add_argument("--days-ago", type=float, default=30.0,
                        help="with --history: event time of the first request, in days ago")
    parser.add_argument("--every", type=float, default=60.0,
                        help="with --history: seconds of event time between two requests")
    parser.add_argument("--label-delay", type=float, default=600.0,
                        help="with --history: seconds of event time from a prediction to its label")
    args = parser.parse_args(argv)
    if args.requests < 0 or args.label_lag < 0 or args.report_every < 1:
        parser.error("--requests and --label-lag must be >= 0, --report-every >= 1")
    if args.days_ago <= 0 or args.every <= 0 or args.label_delay < 0:
        parser.error("--days-ago and --every must be > 0, --label-delay >= 0")
    if not 0 <= args.label_share <= 1:
        parser.error(f"--label-share must be in [0, 1], got {args.label_share}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.history is not None:
        return write_history(args)
    if args.create_topics:
        from streams.transport.topics import driftline_topics, ensure_topics

        ensure_topics(args.bootstrap, driftline_topics(
            predictions=args.predictions_topic, labels=args.labels_topic))
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
