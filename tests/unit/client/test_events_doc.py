"""docs/events.md says what the code does: reasons, fields, examples, the dead-letter record."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from client import InvalidEvent, prediction_record
from streams.config.settings import IngestSettings, TopicSettings
from streams.decoding.events import (
    DEAD_LETTER_REASONS,
    LabelEvent,
    PredictionEvent,
    RawMessage,
    decode_labels,
    decode_predictions,
)
from streams.ingest.model_cap import refusal

ROOT = Path(__file__).resolve().parents[3]
DOC = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
BLOCK = re.compile(r"```json ([a-z_ -]+)\n(.*?)```", re.DOTALL)
ROW = re.compile(r"^\| `([a-z_]+)` \| (.*) \| (.*) \|$", re.MULTILINE)
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
REJECT = IngestSettings(unknown_models="reject")
KNOWN = ["fraud"]


def section(heading: str) -> str:
    """The text under ``heading`` up to the next heading of the same or a higher level."""
    level = heading.split(" ")[0]
    start = DOC.index(heading + "\n") + len(heading)
    found = re.compile(rf"^#{{1,{len(level)}}} ", re.MULTILINE).search(DOC, start)
    return DOC[start:found.start() if found else len(DOC)]


def cell(text: str) -> str:
    text = text.strip()
    if text.startswith("``"):
        return text.strip("`").strip()
    return text.strip("`")


def dead_letter(value: bytes | None, labels: bool = False, key: bytes | None = None,
                ) -> tuple[str, str] | None:
    message = [RawMessage("driftline.predictions", 2, 1841, key, value)]
    decoded = (decode_labels if labels else decode_predictions)(
        message, now=NOW, ingest=REJECT, known_models=KNOWN)
    if not decoded.dead_letters:
        return None
    (letter,) = decoded.dead_letters
    return letter.reason, letter.detail


def reason_table() -> dict[str, str]:
    rows = ROW.findall(section("## Dead letters"))
    assert len(rows) == len({name for name, _, _ in rows}), "a reason is listed twice"
    return {name: cell(example) for name, _, example in rows}


def examples() -> list[tuple[str, bool, str]]:
    """(reason, is a label, payload) of every documented invalid example."""
    found = []
    for info, text in BLOCK.findall(DOC):
        kind, *reason = info.split()
        if kind in ("dead-letter", "dead-letter-label"):
            found.append((reason[0], kind == "dead-letter-label", text.strip()))
    return found


def test_the_doc_lists_exactly_the_reasons_the_code_defines() -> None:
    assert set(reason_table()) == set(DEAD_LETTER_REASONS)


def test_every_documented_invalid_example_gets_its_reason() -> None:
    for reason, labels, text in examples():
        outcome = dead_letter(text.encode(), labels)
        assert outcome is not None, text
        assert outcome[0] == reason, (text, outcome)


def test_every_reason_has_an_example() -> None:
    shown = {reason for reason, _, _ in examples()}
    # A record without a value and one of over 1 MiB cannot be shown as a JSON block, and
    # too_many_models depends on what the worker holds, not on the event.
    assert shown | {"empty_payload", "oversize", "too_many_models"} == set(DEAD_LETTER_REASONS)


def test_each_example_error_is_the_decoders_own_text() -> None:
    details: dict[str, set[str]] = {}
    for reason, labels, text in examples():
        outcome = dead_letter(text.encode(), labels)
        assert outcome is not None
        details.setdefault(reason, set()).add(outcome[1])
    big = b'{"features": {"text": "' + b"x" * (2 * 1024 * 1024 - 26) + b'"}}'
    assert len(big) == 2 * 1024 * 1024
    for reason, value in (("empty_payload", None), ("empty_payload", b""), ("oversize", big)):
        outcome = dead_letter(value)
        assert outcome is not None
        assert outcome[0] == reason
        details.setdefault(reason, set()).add(outcome[1])
    details["too_many_models"] = {refusal("churn-7f3a", "1", IngestSettings().max_models)}
    for reason, example in reason_table().items():
        assert example in details[reason], (reason, example, details[reason])


def _field_rows(heading: str) -> list[tuple[str, str]]:
    rows = re.findall(r"^\| `(\w+)` \| [^|]+ \| (yes|no) \|", section(heading), re.MULTILINE)
    return [(name, required) for name, required in rows]


@pytest.mark.parametrize(("heading", "event_type"), [
    ("### Prediction fields", PredictionEvent), ("### Label fields", LabelEvent)])
def test_the_field_tables_list_every_field_and_whether_it_is_required(
        heading: str, event_type: type[msgspec.Struct]) -> None:
    expected = [(f.name, "yes" if f.required else "no")
                for f in msgspec.structs.fields(event_type)]
    assert _field_rows(heading) == expected


def test_the_dead_letter_record_is_what_the_worker_writes() -> None:
    (record_text,) = [text for info, text in BLOCK.findall(DOC)
                      if info.strip() == "dead-letter-record"]
    documented = json.loads(record_text)
    value = documented["value"]["data"].encode()
    assert next(t for r, _, t in examples() if r == "wrong_type").encode() == value
    decoded = decode_predictions([RawMessage("driftline.predictions", 2, 1841, b"fraud",
                                             value)], now=NOW, ingest=IngestSettings())
    (letter,) = decoded.dead_letters
    assert json.loads(letter.to_json()) == documented


def test_the_topics_are_the_default_settings() -> None:
    topics = TopicSettings()
    table = section("## Topics and keys")
    for name in (topics.predictions, topics.labels, topics.deadletter):
        assert f"`{name}`" in table
    assert f"default {topics.partitions})" in table


def test_the_limits_are_the_default_settings() -> None:
    ingest, table = IngestSettings(), section("## Limits")
    assert ingest.max_event_bytes == 1024 * 1024
    assert "1 MiB by default" in table
    assert (ingest.max_future, ingest.max_past) == (3600, 7 * 86400)
    assert "now + 1 h by default" in table
    assert "now − 7 d by default" in table
    assert ingest.max_features_per_model == 1_000
    assert "1,000 by default (1–100,000) | `ingest.max_features_per_model`" in table
    assert ingest.max_models == 50
    assert "50 by default (1–100,000) | `ingest.max_models`" in table


def test_the_client_error_shown_is_the_clients() -> None:
    (shown,) = re.findall(r"```text client-error\n\s*(.*?)\n\s*```", DOC)
    with pytest.raises(InvalidEvent) as caught:
        prediction_record("fraud", {"amount": 41.5}, model_version=7)  # type: ignore[arg-type]
    assert str(caught.value) == shown
