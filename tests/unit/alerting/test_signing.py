"""``alerting.signing.verify`` never raises on what a sender puts in the headers, and reads
the timestamp only in its canonical form, before any arithmetic."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerting.signing import headers, parse_timestamp, verify

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
BODY = b'{"type": "io.driftline.retrain.requested"}'


def test_a_signed_fresh_message_verifies() -> None:
    now = time.time()
    assert verify(SECRET, headers(SECRET, "msg_1", BODY, now=now), BODY, now=now)


@pytest.mark.parametrize("stamp", [
    "1" * 400, "-1" * 200, "9" * 13, "1_700_000_000", " 1700000000", "1700000000 ",
    "+1700000000", "01700000000", "١٧٠٠٠٠٠٠٠٠", "1.7e9", "", "nan", "inf",
])
def test_a_timestamp_that_is_not_canonical_is_refused_without_arithmetic(stamp: str) -> None:
    now = 1_700_000_000
    signed = headers(SECRET, "msg_1", BODY, now=now)
    assert parse_timestamp(stamp) is None
    assert verify(SECRET, {**signed, "webhook-timestamp": stamp}, BODY, now=now) is False
    # the same headers with the canonical timestamp pass: the refusal is the timestamp's
    assert verify(SECRET, signed, BODY, now=now)


@pytest.mark.parametrize(("text", "value"), [("0", 0), ("1700000000", 1_700_000_000),
                                             ("999999999999", 999_999_999_999)])
def test_canonical_timestamps_parse(text: str, value: int) -> None:
    assert parse_timestamp(text) == value


header_text = st.text(max_size=500) | st.from_regex(r"[0-9]{0,600}", fullmatch=True)


@settings(max_examples=500, deadline=None)
@given(msg_id=st.none() | header_text, stamp=st.none() | header_text,
       signature=st.none() | header_text)
def test_any_headers_give_a_boolean(msg_id: str | None, stamp: str | None,
                                    signature: str | None) -> None:
    received = {name: value for name, value in [
        ("webhook-id", msg_id), ("webhook-timestamp", stamp), ("webhook-signature", signature)]
        if value is not None}
    assert verify(SECRET, received, BODY, now=1_700_000_000) in (True, False)
