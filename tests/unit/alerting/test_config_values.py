"""The configuration primitives, and that every section parser uses them instead of a copy."""

from __future__ import annotations

import ast
import doctest
from pathlib import Path

import pytest

import alerting.config_values
from alerting.config_values import (
    ConfigError,
    bad,
    duration,
    format_duration,
    integer,
    parse_duration,
    show,
)
from alerting.model import AlertingConfigError
from streams.config.settings import SettingsError

ROOT = Path(__file__).resolve().parents[3]
SOURCE_PACKAGES = ("detectors", "streams", "store", "alerting", "dashboards", "client")
# Names only alerting/config_values.py may define (functions, classes or assigned names).
SHARED = {"parse_duration", "format_duration", "UNITS", "_UNITS", "_fmt_seconds",
          "mask_passwords", "url_origin", "_origin", "ConfigError"}
# The section parsers, and the helpers they used to define each for itself.
SECTION_PARSERS = ("streams/config/settings.py", "streams/config/performance.py",
                   "alerting/config.py", "alerting/settings.py", "alerting/rules.py",
                   "alerting/receivers.py")
SECTION_HELPERS = {"show", "_show", "bad", "_bad", "mapping", "_mapping", "check_keys",
                   "_check_keys", "_number", "_as_int", "_integer", "_duration",
                   "_positive_duration", "_choice", "_word", "_text", "_optional"}


def test_doctests() -> None:
    result = doctest.testmod(alerting.config_values)
    assert result.failed == 0
    assert result.attempted >= 25


@pytest.mark.parametrize(("text", "seconds"), [
    ("250ms", 0.25), ("30s", 30.0), ("5m", 300.0), ("1h", 3600.0), ("2d", 172800.0),
    (45, 45.0), ("1.5", 1.5), (".5s", 0.5), (0, 0.0), ("bad", None), ("-3s", None),
    (False, None), (float("inf"), None), (float("nan"), None), (None, None), ([1], None)])
def test_parse_duration(text: object, seconds: float | None) -> None:
    assert parse_duration(text) == seconds


def test_a_negative_number_reads_as_itself_and_its_bound_refuses_it() -> None:
    assert parse_duration(-3) == -3.0
    with pytest.raises(ConfigError, match=r"^x: must be a duration >= 0s, got -3$"):
        duration(0)(-3, "x")


@pytest.mark.parametrize(("seconds", "text"), [
    (1800, "30m"), (86400 * 2, "2d"), (7200, "2h"), (90, "90s"), (0.25, "250ms"), (0, "0s"),
    (1.5, "1.5s"), (90.5, "90.5s")])
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("text", ["30m", "2d", "250ms", "90s", "0s"])
def test_format_duration_reads_back(text: str) -> None:
    assert format_duration(parse_duration(text) or 0.0) == text


def test_show_masks_every_password_and_cuts_long_values() -> None:
    assert show("ftp://user:hunter2@host/x") == "'ftp://user:***@host/x'"
    assert show("host=db password=s3cret") == "'host=db password=***'"
    assert show("y" * 119) == repr("y" * 119)[:117] + "..."
    assert len(show(list(range(100)))) == 120


def test_bad_names_the_path_and_the_value() -> None:
    error = bad("worker.web_port", "an integer in [1, 65535]", "70000")
    assert (str(error), error.path) == (
        "worker.web_port: must be an integer in [1, 65535], got '70000'", "worker.web_port")


def test_integers_from_text_only_where_asked() -> None:
    assert integer(1)(" 12 ", "k") == 12
    with pytest.raises(ConfigError, match=r"^k: must be an integer >= 1, got True$"):
        integer(1)(True, "k")
    with pytest.raises(ConfigError, match=r"^k: must be an integer >= 1, got '12'$"):
        integer(1, text=False)("12", "k")


def test_one_error_class_for_every_section() -> None:
    assert SettingsError is ConfigError
    assert AlertingConfigError is ConfigError


def _defined_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(target.id for target in targets if isinstance(target, ast.Name))
    return names


def test_the_scan_sees_a_copy(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text('_UNITS = {"s": 1.0}\n\ndef parse_duration(value):\n    return None\n',
                     encoding="utf-8")
    assert _defined_names(probe) & SHARED == {"_UNITS", "parse_duration"}


def test_no_other_module_defines_a_configuration_primitive() -> None:
    shared = ROOT / "alerting" / "config_values.py"
    copies = {
        str(path.relative_to(ROOT)): sorted(_defined_names(path) & SHARED)
        for package in SOURCE_PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if path != shared and _defined_names(path) & SHARED
    }
    assert copies == {}


@pytest.mark.parametrize("name", SECTION_PARSERS)
def test_section_parsers_use_the_shared_readers(name: str) -> None:
    assert _defined_names(ROOT / name) & SECTION_HELPERS == set()
