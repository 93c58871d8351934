"""Reading, filtering and showing dead-letter records (``streams.transport.deadletters``)."""

from __future__ import annotations

import json
import socket

import click
import pytest
from click.testing import CliRunner

from streams.cli.deadletter import show
from streams.decoding.events import DeadLetter
from streams.transport.deadletters import (
    UNREADABLE,
    Letter,
    newest,
    payload_text,
    read_letter,
    render_table,
    selected,
    table_row,
    truncate,
)
from streams.transport.reading import accepts

T0 = 1_796_654_619_000  # 2026-12-07T14:43:39Z


def letter(reason: str = "bad_json", *, detail: str = "Expected `object`", offset: int = 5,
           key: bytes | None = b"fraud", value: bytes | None = b"{nope", at: int = T0,
           partition: int = 0, stored_offset: int = 0) -> Letter:
    stored = DeadLetter(reason, detail, "driftline.predictions", 3,  # type: ignore[arg-type]
                        offset, key, value).to_json()
    return read_letter(partition, stored_offset, at, stored)


def test_a_dead_letter_is_read_as_the_worker_writes_it() -> None:
    read = letter("wrong_type", detail="Expected `str`, got `int` - at `$.model_version`",
                  offset=1234)
    assert read.record is not None
    assert read.problem is None
    assert read.reason == "wrong_type"
    assert table_row(read) == ("2026-12-07T14:43:39.000Z", "wrong_type",
                               "driftline.predictions", "3", "1234", "fraud",
                               "Expected `str`, got `int` - at `$.model_version`")


@pytest.mark.parametrize(("value", "problem"), [
    (b"", "empty record"), (None, "empty record"), (b"\xff", "not JSON"),
    (b"{bad", "not JSON"), (b"[1, 2]", "not a JSON object"),
    (b'{"reason": "bad_json", "topic": "t"}', "no error, partition, offset"),
])
def test_other_records_are_unreadable_and_say_why(value: bytes | None, problem: str) -> None:
    read = read_letter(2, 17, T0, value)
    assert read.record is None
    assert read.reason == UNREADABLE
    assert read.problem is not None
    assert read.problem.startswith(problem)
    row = table_row(read)
    assert row[1] == UNREADABLE
    assert row[-1].startswith("dead-letter record 2/17: " + problem[:20])


def test_a_missing_timestamp_shows_as_a_dash() -> None:
    assert table_row(read_letter(0, 0, -1, b"{}"))[0] == "-"
    assert read_letter(0, 0, -1, b"{}").timestamp_ms is None


def test_keys_as_text_base64_or_none() -> None:
    assert table_row(letter(key=b"fraud"))[5] == "fraud"
    assert table_row(letter(key=b"\xff\x00"))[5] == "base64:/wA="
    assert table_row(letter(key=None))[5] == "-"
    assert payload_text({"encoding": "utf-8", "data": "x"}) == "x"
    assert len(table_row(letter(key=b"k" * 200))[5]) == 24


def test_details_are_one_line_and_truncated() -> None:
    row = table_row(letter(detail="a\nb " + "x" * 300), detail_chars=40)
    assert row[-1] == "a b " + "x" * 35 + "…"
    assert len(row[-1]) == 40
    assert truncate("short", 40) == "short"
    assert truncate("exactly ten", 11) == "exactly ten"


def test_filters() -> None:
    late, early = letter("bad_json", at=T0 + 1000), letter("oversize", at=T0 - 1000)
    assert selected(late, set(), None)
    assert selected(late, {"bad_json", "oversize"}, T0)
    assert not selected(late, {"oversize"}, None)
    assert not selected(early, set(), T0)
    assert selected(early, set(), T0 - 1000)  # since is inclusive
    assert not selected(read_letter(0, 0, None, b"{}"), set(), T0)  # no time: not recent
    assert not selected(read_letter(0, 0, T0, b"{}"), {"bad_json"}, None)


def test_newest_are_the_last_by_time_then_partition_and_offset() -> None:
    letters = [letter(at=T0 + 2, partition=0, stored_offset=9),
               letter(at=T0, partition=1, stored_offset=1),
               letter(at=T0 + 2, partition=0, stored_offset=3),
               letter(at=T0 + 1, partition=2, stored_offset=0)]
    picked = newest(letters, 3)
    assert [(x.timestamp_ms, x.partition, x.offset) for x in picked] == [
        (T0 + 1, 2, 0), (T0 + 2, 0, 3), (T0 + 2, 0, 9)]
    assert newest(letters, 10) == sorted(letters, key=lambda x: x.order)
    assert newest(letters, 0) == []


def test_the_table_is_aligned_with_a_header() -> None:
    lines = render_table([letter(offset=7), letter("oversize", offset=123456, key=None)]
                         ).splitlines()
    assert lines[0].split() == ["TIME", "REASON", "TOPIC", "PARTITION", "OFFSET", "KEY",
                                "DETAIL"]
    assert len(lines) == 3
    start = lines[0].index("DETAIL")
    assert all(line[start:].startswith("Expected") for line in lines[1:])
    end = lines[0].index("OFFSET") + len("OFFSET")
    assert [line[:end].rstrip().rsplit(" ", 1)[-1] for line in lines[1:]] == ["7", "123456"]


def test_json_prints_the_records_as_stored_and_names_unreadable_ones() -> None:
    good = letter(offset=42)
    bad = read_letter(1, 8, T0, b"not json")
    runner = CliRunner()
    result = runner.invoke(_show_command, ["json"], obj=[good, bad])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [good.value.decode() if good.value else ""]
    assert json.loads(result.stdout)["offset"] == 42
    assert result.stderr.strip() == ("driftline: warning: dl partition 1 offset 8 is not a dead "
                                     "letter (not JSON (Expecting value: line 1 column 1 "
                                     "(char 0)))")


def test_an_empty_table_says_so_on_stderr() -> None:
    result = CliRunner().invoke(_show_command, ["table", "oversize"], obj=[])
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr.strip() == "no dead letters with reason oversize in dl"


@click.command()
@click.argument("fmt")
@click.argument("reasons", nargs=-1)
@click.pass_obj
def _show_command(obj: list[Letter], fmt: str, reasons: tuple[str, ...]) -> None:
    show(obj, fmt, "dl", reasons)


def test_a_bootstrap_address_that_accepts_or_not() -> None:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        assert accepts(f"127.0.0.1:{port}", 2)
        assert accepts(f" [127.0.0.1]:{port}", 2)
    assert not accepts(f"127.0.0.1:{port}", 2)  # closed now
    assert not accepts("no-port", 2)
