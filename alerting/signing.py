"""Webhook signatures as Standard Webhooks specifies (https://www.standardwebhooks.com).

A signing secret is ``whsec_`` followed by the base64 of the key (a bare base64
string is accepted too). The signed content is ``{webhook-id}.{webhook-timestamp}.{body}``;
the signature is ``v1,`` and the base64 of its HMAC-SHA256. A receiver verifies
by recomputing it, comparing in constant time with each space-separated
signature of the header, and refusing timestamps outside its tolerance.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time

PREFIX = "whsec_"
TOLERANCE = 300  # seconds a receiver accepts between the timestamp and its clock
# A timestamp is whole seconds since the epoch in canonical ASCII decimal: no sign, space,
# underscore, leading zero or non-ASCII digit that ``int`` would accept, and at most 12
# digits (year 33658), so it is refused before any arithmetic however long the header is.
_TIMESTAMP = re.compile(r"(?:0|[1-9][0-9]{0,11})")


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_...`` secret."""
    try:
        return base64.b64decode(secret.removeprefix(PREFIX), validate=True)
    except ValueError:
        raise ValueError("a signing secret must be 'whsec_' followed by base64") from None


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value of one message."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, msg_id: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """The three Standard Webhooks headers for a message sent now."""
    timestamp = int(time.time() if now is None else now)
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(secret, msg_id, timestamp, body)}


def parse_timestamp(text: str) -> int | None:
    """The header's seconds since the epoch, or None unless canonical (``_TIMESTAMP``)."""
    if len(text) > 12 or not _TIMESTAMP.fullmatch(text):
        return None
    return int(text)


def verify(secret: str, received: dict[str, str], body: bytes, now: float | None = None,
           tolerance: int = TOLERANCE) -> bool:
    """True when ``received`` (header names lower-cased) signs ``body`` and is fresh.

    Never raises on what a sender can put in the headers: a missing header, a timestamp
    that is not canonical (``parse_timestamp``) or a malformed signature list is False.
    """
    msg_id = received.get("webhook-id")
    timestamp = parse_timestamp(received.get("webhook-timestamp", ""))
    signatures = received.get("webhook-signature")
    if msg_id is None or timestamp is None or signatures is None:
        return False
    given = signatures.split()
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    expected = signature(secret, msg_id, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in given)
