"""The configuration's JSON Schema: fresh, valid, true to the loader and to the docs.

The schema is checked against the loader itself, not against a list of keys
written here: at every mapping of the schema an unknown key is put into an
otherwise valid file, and the loader's error names the keys it allows; every
range and enum is tried at its bounds.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from streams.config import schema as config_schema
from streams.config.docs import DOCS_FILE, docs_key, documented_keys
from streams.config.effective import effective_settings
from streams.config.schema import SCHEMA_FILE, walk
from streams.config.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[4]
SCHEMA: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
SIGNING_SECRET = "whsec_ZXhhbXBsZS1zZWNyZXQta2V5"
RECEIVERS = {
    "slack": {"type": "slack", "url": "https://hooks.example/x"},
    "pagerduty": {"type": "pagerduty", "routing_key": "k"},
    "webhook": {"type": "webhook", "url": "https://h.example/x", "signing_secret": SIGNING_SECRET},
    "deployer": {"type": "deployer", "url": "https://h.example/x",
                 "signing_secret": SIGNING_SECRET},
}
RULE = {"name": "probe", "metric": "drift_share", "above": 0.5}
RULE_FOR = {"after": {"name": "probe", "metric": "no_data"}}
# Keys the loader checks together with another: the other is set so the probe tests one.
SIBLINGS: dict[str, dict[str, Any]] = {
    "models.*.thresholds.*.warn": {"critical": 100},
    "models.*.thresholds.*.critical": {"warn": 0.001},
    "alerting.dispatch.max_delay": {"base_delay": 0.001},
}
# Enums whose values need other keys to match (a metric decides which thresholds a rule
# takes; a receiver's type which secrets it needs): the rule and receiver shapes are
# tested by the key probes and the examples instead.
NOT_PROBED = {"alerting.rules[].metric", "alerting.receivers.*.type"}


# ----- the committed file ------------------------------------------------------------------
def test_the_committed_schema_is_what_the_generator_writes() -> None:
    assert config_schema.main(["--check"]) == 0, "stale: run `make config-schema` and commit"


def test_check_names_a_stale_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "schema.json"
    assert config_schema.main(["--out", str(out)]) == 0
    assert config_schema.main(["--check", "--out", str(out)]) == 0
    out.write_text(out.read_text(encoding="utf-8").replace('"default": 6066', '"default": 1'),
                   encoding="utf-8")
    assert config_schema.main(["--check", "--out", str(out)]) == 1
    assert "schema.json is stale" in capsys.readouterr().err


def test_a_setting_without_a_schema_stops_the_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    worker = {k: v for k, v in config_schema._WORKER.items() if k != "web_port"}
    monkeypatch.setattr(config_schema, "_WORKER", worker)
    with pytest.raises(ValueError, match=r"^no schema for worker\.web_port: add it"):
        config_schema.build_schema({})


def test_schema_is_valid_draft_2020_12() -> None:
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


# ----- examples ----------------------------------------------------------------------------
def _doc_examples() -> Iterator[tuple[str, Any]]:
    for page in sorted((ROOT / "docs").glob("*.md")):
        for index, block in enumerate(re.findall(r"```yaml\n(.*?)```",
                                                 page.read_text(encoding="utf-8"), re.DOTALL)):
            yield f"{page.name}#{index}", yaml.safe_load(block)


EXAMPLE_FILES = sorted((ROOT / "examples").glob("*.yaml"))
DOC_EXAMPLES = dict(_doc_examples())


def test_there_are_examples_to_check() -> None:
    assert len(DOC_EXAMPLES) >= 4
    assert EXAMPLE_FILES


@pytest.mark.parametrize("name", sorted(DOC_EXAMPLES))
def test_docs_examples_validate(name: str) -> None:
    assert [error.message for error in VALIDATOR.iter_errors(DOC_EXAMPLES[name])] == []


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_example_files_validate_and_load(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=../streams/config/config.schema.json")
    assert [e.message for e in VALIDATOR.iter_errors(yaml.safe_load(text))] == []
    variables = set(re.findall(r"_env: ([A-Z_]+)", text))
    environ = {name: SIGNING_SECRET if "SECRET" in name else "https://h.example/x"
               for name in variables}
    load_settings(path, environ=environ)


def test_the_demo_configuration_validates(tmp_path: Path) -> None:
    from streams.devtools.demo import CONFIG
    from streams.devtools.receiver import DemoReceiver

    with DemoReceiver() as receiver:
        text = CONFIG + receiver.config()
    data = yaml.safe_load(text)
    assert set(data) >= {"models", "worker", "alerting"}
    assert [e.message for e in VALIDATOR.iter_errors(data)] == []
    path = tmp_path / "demo.yaml"
    path.write_text(text, encoding="utf-8")
    load_settings(path, environ={})


def test_the_effective_settings_validate(tmp_path: Path) -> None:
    for path in EXAMPLE_FILES:
        without_receivers = yaml.safe_load(path.read_text(encoding="utf-8"))
        without_receivers.get("alerting", {}).pop("receivers", None)
        without_receivers.get("api", {}).pop("tokens", None)  # shown without their values
        for rule in without_receivers.get("alerting", {}).get("rules", []):
            rule.pop("receivers", None)
        probe = tmp_path / "probe.yaml"
        probe.write_text(yaml.safe_dump(without_receivers), encoding="utf-8")
        shown = effective_settings(load_settings(probe, environ={}))
        assert [e.message for e in VALIDATOR.iter_errors(shown)] == []
    assert list(VALIDATOR.iter_errors(effective_settings(load_settings(environ={})))) == []


@pytest.mark.parametrize("bad", [
    {"worker": {"web_prot": 1}},
    {"worker": {"web_port": 70000}},
    {"topics": {"partitions": "four"}},
    {"models": {"default": {"window": {"size": "5 minutes"}}}},
    {"models": {"default": {"reference": {"policy": "last_window"}}}},
    {"models": {"fraud": {"features": {"zip": "text"}}}},
    {"models": {"fraud": {"performance": {"detector": "adwinn"}}}},
    {"alerting": {"receivers": {"a": {"type": "slack"}}}},
    {"alerting": {"receivers": {"a": {"type": "slack", "url": "https://h/x",
                                      "url_env": "URL"}}}},
    {"alerting": {"receivers": {"a": {"type": "slack", "url": "https://h/x",
                                      "routing_key": "k"}}}},
    {"alerting": {"receivers": {"a": {"type": "pagerduty", "routing_key": "k",
                                      "url": "https://h/x", "url_file": "/f"}}}},
    {"alerting": {"rules": [{"name": "r", "metric": "feature.pis", "above": 1}]}},
    {"alerting": {"rules": [{"metric": "drift_share", "above": 1}]}},
    {"alerting": {"retrain": {"signing_secret": SIGNING_SECRET, "signing_secret_env": "X"}}},
])
def test_schema_refuses_what_the_loader_refuses(bad: dict[str, Any], tmp_path: Path) -> None:
    assert list(VALIDATOR.iter_errors(bad)) != []
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad), encoding="utf-8")
    with pytest.raises(SettingsError):
        load_settings(path, environ={"URL": "https://h/x", "X": SIGNING_SECRET})


def test_empty_sections_are_valid() -> None:
    assert list(VALIDATOR.iter_errors({"topics": None, "alerting": {"retrain": None}})) == []
    assert list(VALIDATOR.iter_errors(None)) == []


# ----- the schema against the loader ----------------------------------------------------------
def place(path: str, value: object, kind: str = "slack") -> dict[str, Any]:
    """A file with ``value`` at ``path`` (``*``: a model or receiver, ``[]``: a rule) and,
    around it, the least the loader needs: a listed model, a receiver of ``kind``, a rule."""
    config: dict[str, Any] = {"models": {"probe": {}}}
    node: dict[str, Any] = config
    parts = path.split(".")
    for index, part in enumerate(parts[:-1]):
        if part.endswith("[]"):
            node = node.setdefault(part[:-2], [dict(RULE_FOR.get(parts[-1], RULE))])[0]
        elif part == "*":
            base = RECEIVERS[kind] if parts[index - 1] == "receivers" else {}
            node = node.setdefault("probe", dict(base))
        else:
            node = node.setdefault(part, {})
    node[parts[-1]] = value
    for pattern, siblings in SIBLINGS.items():
        if fnmatch.fnmatchcase(path, pattern):
            node.update(siblings)
    return config


def loads(config: dict[str, Any], tmp_path: Path) -> str | None:
    """None when the loader accepts ``config``, else its error."""
    path = tmp_path / "probe.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    try:
        load_settings(path, environ={})
    except SettingsError as error:
        return str(error)
    return None


def objects(node: dict[str, Any], path: str = "",
            kind: str = "slack") -> Iterator[tuple[str, str, set[str]]]:
    """(path, receiver kind, keys) of every closed mapping of the schema."""
    if node.get("additionalProperties") is False:
        yield path, kind, set(node["properties"])
    for key, child in node.get("properties", {}).items():
        yield from objects(child, f"{path}.{key}".lstrip("."), kind)
    if isinstance(node.get("additionalProperties"), dict):
        yield from objects(node["additionalProperties"], f"{path}.*".lstrip("."), kind)
    if isinstance(node.get("items"), dict):
        yield from objects(node["items"], f"{path}[]", kind)
    for child in node.get("anyOf", []) + node.get("oneOf", []):
        const = child.get("properties", {}).get("type", {}).get("const", kind)
        yield from objects(child, path, const)


OBJECTS = list(objects(SCHEMA))


def test_every_section_and_receiver_type_is_probed() -> None:
    paths = {(path, kind) for path, kind, _ in OBJECTS}
    assert {("", "slack"), ("models.*.thresholds.psi", "slack"), ("alerting.rules[]", "slack"),
            ("alerting.receivers.*", "pagerduty"), ("alerting.retrain", "slack")} <= paths
    assert len(OBJECTS) >= 20


@pytest.mark.parametrize(("path", "kind", "keys"), OBJECTS,
                         ids=[f"{p or 'top'}:{k}" for p, k, _ in OBJECTS])
def test_schema_keys_are_the_keys_the_loader_allows(
        path: str, kind: str, keys: set[str], tmp_path: Path) -> None:
    probe = f"{path}.zz_unknown".lstrip(".")
    error = loads(place(probe, 1, kind), tmp_path)
    assert error is not None, f"the loader accepted an unknown key in {path or 'the file'}"
    allowed = re.search(r"\(allowed: ([^)]*)\)|one of the keys (.*), got", error)
    assert allowed, error
    assert set((allowed[1] or allowed[2]).split(", ")) == keys


def _leaves() -> Iterator[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []

    def visit(node: dict[str, Any], path: str) -> None:
        if "properties" not in node and path not in NOT_PROBED:
            found.append((path, node))

    walk(SCHEMA, visit)
    yield from found


def _bounds(node: dict[str, Any]) -> Iterator[tuple[object, bool]]:
    """(value, accepted?) at the bounds of a node's enum and number ranges."""
    for option in [node, *node.get("anyOf", [])]:
        for value in option.get("enum", []):
            yield value, True
        if "enum" in option:
            yield "zz_not_a_choice", False
        if option.get("type") not in ("integer", "number"):
            continue
        step = 1 if option["type"] == "integer" else 0.5
        high = option.get("maximum", option.get("exclusiveMaximum"))
        if "minimum" in option:
            yield option["minimum"], True
            yield option["minimum"] - step, False
        if "exclusiveMinimum" in option:
            low = option["exclusiveMinimum"]
            yield low, False
            yield (low + high) / 2 if high is not None else low + 0.01, True
        if "maximum" in option:
            yield option["maximum"], True
            yield option["maximum"] + step, False
        if "exclusiveMaximum" in option:
            yield option["exclusiveMaximum"], False
            yield option["exclusiveMaximum"] - 0.01, True


BOUNDS = [(path, value, accepted) for path, node in _leaves()
          for value, accepted in _bounds(node)]


def test_ranges_and_enums_are_probed() -> None:
    paths = {path for path, _, _ in BOUNDS}
    assert {"worker.web_port", "models.*.thresholds.alpha", "models.*.performance.detector",
            "alerting.dispatch.max_attempts", "alerting.receivers.*.timeout"} <= paths
    assert len(BOUNDS) >= 100


@pytest.mark.parametrize(("path", "value", "accepted"), BOUNDS,
                         ids=[f"{p}={v!r}" for p, v, _ in BOUNDS])
def test_ranges_and_enums_match_the_loader(path: str, value: object, accepted: bool,
                                           tmp_path: Path) -> None:
    config = place(path, value)
    assert (loads(config, tmp_path) is None) is accepted, loads(config, tmp_path)
    assert (list(VALIDATOR.iter_errors(config)) == []) is accepted


# ----- the schema against the docs ---------------------------------------------------------
# The detector's parameters are an open mapping described in the `detector` row.
UNDOCUMENTED = {"models.performance.detector.name"}


def test_every_schema_key_is_documented() -> None:
    documented = documented_keys(DOCS_FILE.read_text(encoding="utf-8"))
    paths: set[str] = set()

    def visit(node: dict[str, Any], path: str) -> None:
        paths.add(path)

    def every(node: dict[str, Any], path: str = "") -> None:
        walk(node, visit, path)
        for variants in ("anyOf", "oneOf"):
            for child in node.get(variants, []):
                for key, sub in child.get("properties", {}).items():
                    every(sub, f"{path}.{key}".lstrip("."))
        for key, sub in node.get("properties", {}).items():
            every(sub, f"{path}.{key}".lstrip("."))
        if isinstance(node.get("additionalProperties"), dict):
            every(node["additionalProperties"], f"{path}.*".lstrip("."))
        if isinstance(node.get("items"), dict):
            every(node["items"], f"{path}[]")

    every(SCHEMA)
    keys = {docs_key(path) for path in paths if path} - UNDOCUMENTED
    assert {"alerting.receivers.url_env", "models.thresholds.psi.warn", "topics.join"} <= keys
    assert sorted(keys - set(documented)) == []


def test_descriptions_come_from_the_docs() -> None:
    documented = documented_keys(DOCS_FILE.read_text(encoding="utf-8"))
    port = SCHEMA["properties"]["worker"]["properties"]["web_port"]
    assert port["description"] == documented["worker.web_port"] == "its port"
    url = SCHEMA["properties"]["database_url"]
    assert url["description"].endswith("`driftline config check` shows its password as ***.")


def test_docs_parser_reads_tables_and_headings() -> None:
    page = ("## Top level\n\n| key | meaning |\n|---|---|\n| `a` | first |\n\n"
            "## `s`\n\n### `t`\n\n| key | default |\n|---|---|\n"
            "| `x`, `y` | 1 |\n| `p: {warn, critical}` | 2 |\n\n## Other\n\n| `z` | no |\n")
    assert documented_keys(page) == {"a": "first", "s": "", "s.t": "", "s.t.x": "",
                                     "s.t.y": "", "s.t.p": "", "s.t.p.warn": "",
                                     "s.t.p.critical": ""}
