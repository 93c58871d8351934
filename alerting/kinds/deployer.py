"""The ``deployer`` receiver: a signed webhook that receives retrain requests.

Takes a ``url`` and a ``signing_secret``. It is not told of alert events
(``alerts=False``); it is sent the ``io.driftline.retrain.requested``
CloudEvent of rules with ``retrain: true`` (``retrain=True``), and only for
firings: rendering a resolution for it is a ``ValueError``. Its signing secret
also signs the retrain topic's records when it is the only deployer and
``alerting.retrain.signing_secret`` is not given (``alerting.settings``).
"""

from __future__ import annotations

from typing import Any

from alerting.delivery import signed_request
from alerting.model import AlertEvent
from alerting.payloads import retrain_key, retrain_request
from alerting.receivers import SIGNING_SECRET, URL, ReceiverKind, ReceiverSettings


def firing(event: AlertEvent) -> bool:
    return event.status == "firing"


def render(event: AlertEvent, receiver: ReceiverSettings,
           grafana_url: str | None) -> dict[str, Any]:
    if not firing(event):
        raise ValueError(f"receiver {receiver.name!r}: a deployer is sent firing events only, "
                         f"got {event.status} {event.idempotency_key!r}")
    return retrain_request(event, retrain_key(event))


KIND = ReceiverKind("deployer", (URL, SIGNING_SECRET), render, signed_request,
                    alerts=False, retrain=True, sends=firing)
