"""The committed JSON Schema: fresh, generated from the decoder's types, and agreeing with
the decoder on the documented examples."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
from jsonschema import Draft202012Validator, FormatChecker

from client import schema
from streams.config.settings import IngestSettings
from streams.decoding.events import (
    LabelEvent,
    PredictionEvent,
    RawMessage,
    decode_labels,
    decode_predictions,
)

ROOT = Path(__file__).resolve().parents[3]
DOC = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
BLOCK = re.compile(r"```json ([a-z_ -]+)\n(.*?)```", re.DOTALL)
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
COMMITTED = {name: json.loads((schema.OUT / name).read_text(encoding="utf-8"))
             for name in schema.SCHEMAS}
PREDICTION, LABEL = COMMITTED["prediction-event.json"], COMMITTED["label-event.json"]


# RFC 3339 date-time (section 5.6): a full date, T (or t, or a space), a full time with
# seconds and an optional fraction, and a zone (Z or an offset). jsonschema checks the
# date-time format only with a package the lock does not hold, so the check is given here.
DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
FORMATS = FormatChecker([])
FORMATS.checks("date-time")(lambda value: not isinstance(value, str)
                            or DATE_TIME.fullmatch(value) is not None)


def errors(value: Any, document: dict[str, Any]) -> list[str]:
    """What the schema finds wrong with ``value`` (empty when it is valid)."""
    validator = Draft202012Validator(document, format_checker=FORMATS)
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(value)]


def blocks(tag: str) -> list[str]:
    return [text for info, text in BLOCK.findall(DOC) if info.strip() == tag]


def dead_letter_blocks(prefix: str) -> list[str]:
    return [text for info, text in BLOCK.findall(DOC) if info.startswith(prefix + " ")]


def test_the_committed_schema_is_what_the_generator_writes() -> None:
    assert schema.main(["--check"]) == 0, "stale: run `make event-schema` and commit"


def test_check_names_a_stale_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert schema.main(["--out", str(tmp_path)]) == 0
    assert schema.main(["--check", "--out", str(tmp_path)]) == 0
    path = tmp_path / "label-event.json"
    path.write_text(path.read_text(encoding="utf-8").replace('"label",', '"labels",'),
                    encoding="utf-8")
    assert schema.main(["--check", "--out", str(tmp_path)]) == 1
    assert "label-event.json" in capsys.readouterr().err


def test_the_schema_is_msgspecs_of_the_decoder_types() -> None:
    assert PREDICTION["$ref"] == "#/$defs/PredictionEvent"
    assert PREDICTION["$defs"] == msgspec.json.schema(PredictionEvent)["$defs"]
    assert LABEL["$defs"] == msgspec.json.schema(LabelEvent)["$defs"]
    assert PREDICTION["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("name", sorted(COMMITTED))
def test_the_schema_is_valid_draft_2020_12(name: str) -> None:
    Draft202012Validator.check_schema(COMMITTED[name])


def patterns(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "pattern"] + [
            p for v in node.values() for p in patterns(v)]
    if isinstance(node, list):
        return [p for v in node for p in patterns(v)]
    return []


NAMES = ["fraud", "Zürich", "", "a b", "ab\n", "a\x00b", "\x7f", "x\u0085y", "\u00a0ok", "\n"]


def test_the_name_patterns_refuse_control_characters_only() -> None:
    (pattern,) = set(patterns(PREDICTION))
    assert [bool(re.search(pattern, n)) for n in NAMES] == [
        True, True, True, True, False, False, False, False, True, False]


def test_the_patterns_mean_the_same_in_ecma_262() -> None:
    """Validators in other languages read ``pattern`` as ECMA-262 (JavaScript) regexes."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    script = ("const [patterns, names] = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
              "console.log(JSON.stringify(patterns.map(p => names.map("
              "n => new RegExp(p, 'u').test(n)))));")
    found = set(patterns(PREDICTION)) | set(patterns(LABEL))
    assert found
    run = subprocess.run([node, "-e", script], input=json.dumps([sorted(found), NAMES]),
                         capture_output=True, text=True, check=True)
    assert json.loads(run.stdout) == [[bool(re.search(p, n)) for n in NAMES]
                                      for p in sorted(found)]


def test_required_fields_and_types_match_the_decoder() -> None:
    definition = PREDICTION["$defs"]["PredictionEvent"]
    fields = msgspec.structs.fields(PredictionEvent)
    assert list(definition["properties"]) == [f.name for f in fields]
    assert definition["required"] == [f.name for f in fields if f.required]
    label = LABEL["$defs"]["LabelEvent"]
    assert label["required"] == [f.name for f in msgspec.structs.fields(LabelEvent)]


def _decodes(text: str, labels: bool) -> bool:
    message = [RawMessage("t", 0, 0, None, text.encode())]
    if labels:
        return bool(decode_labels(message, now=NOW, ingest=IngestSettings()).events)
    return bool(decode_predictions(message, now=NOW, ingest=IngestSettings()).events)


def test_there_are_documented_examples() -> None:
    assert len(blocks("prediction")) >= 2
    assert len(blocks("label")) >= 1


@pytest.mark.parametrize(("tag", "document", "labels"), [
    ("prediction", PREDICTION, False), ("label", LABEL, True)])
def test_the_schema_and_the_decoder_accept_the_documented_examples(
        tag: str, document: dict[str, Any], labels: bool) -> None:
    for text in blocks(tag):
        assert errors(json.loads(text), document) == [], text
        assert _decodes(text, labels)


# Invalid examples whose fault the schema can express (type, required, minLength,
# date-time); the others (time bounds, finite score, model list) only the decoder sees.
SCHEMA_REASONS = ("wrong_type", "missing_field")


def test_the_schema_rejects_what_the_decoder_rejects_for_type_and_presence() -> None:
    checked = 0
    for info, text in BLOCK.findall(DOC):
        parts = info.split()
        if parts[0] not in ("dead-letter", "dead-letter-label") or parts[1] not in SCHEMA_REASONS:
            continue
        document = LABEL if parts[0] == "dead-letter-label" else PREDICTION
        assert errors(json.loads(text), document) != [], text
        assert not _decodes(text, labels=parts[0] == "dead-letter-label")
        checked += 1
    assert checked >= 4


@pytest.mark.parametrize(("change", "fault"), [
    ({"event_time": "2026-11-22T10:00:00"}, "is not a 'date-time'"),
    ({"event_id": ""}, "should be non-empty"),
    ({"features": {"a": [1]}}, "is not valid under any of the given schemas"),
    ({"model_version": None}, "None is not of type 'string'"),
    ({"model_id": "a\x00b"}, "does not match"),
    ({"features": {f"f{i}": 1 for i in range(1_001)}}, "has too many properties"),
])
def test_the_schema_rejects_an_invalid_event(change: dict[str, Any], fault: str) -> None:
    event = json.loads(blocks("prediction")[0]) | change
    (found,) = errors(event, PREDICTION)
    assert fault in found
    assert not _decodes(json.dumps(event), labels=False)
