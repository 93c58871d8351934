"""``driftline backfill``'s reading: files sorted by event time and merged, labels after."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from click.testing import CliRunner

from streams.cli.backfill import event_time, merged, sorted_records
from streams.cli.main import main
from streams.cli.replay import RowMapping


def _how(path: Path, labels: bool = False) -> RowMapping:
    return RowMapping(path, labels, None, "1", frozenset(), timed=True)


def test_event_times_read_from_the_payload() -> None:
    assert event_time(b'{"event_time": "1970-01-01T00:01:00Z"}') == 60.0
    assert event_time(b'{"event_time": "1970-01-01T02:01:00+02:00"}') == 60.0
    for unreadable in (b"{oops", b"{}", b'{"event_time": "1970-01-01T00:01:00"}',
                       b'{"event_time": 5}', b"[1]"):
        assert event_time(unreadable) == float("-inf")


def test_json_lines_are_sorted_stably_and_counted_out_of_order(tmp_path: Path) -> None:
    lines = [{"model_id": "m", "id": i, "event_time": f"2026-01-01T00:00:0{t}Z"}
             for i, t in enumerate([3, 1, 2, 1, 5])]
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n{bad\n")
    records, unordered = sorted_records(path, "preds", _how(path))
    assert [json.loads(r[4])["id"] for r in records[1:]] == [1, 3, 2, 0, 4]
    assert records[0][4] == b"{bad"  # no time: first, and the checks refuse it
    assert unordered == 4  # 1, 2 and 1 after 3; the bad line after 5
    assert {(r[2], r[3]) for r in records[1:]} == {("preds", b"m")}


def test_predictions_and_labels_merge_by_time_predictions_first_on_a_tie(
        tmp_path: Path) -> None:
    preds = tmp_path / "p.jsonl"
    labels = tmp_path / "l.jsonl"
    preds.write_text("\n".join(json.dumps({"model_id": "m", "n": f"p{t}",
                                           "event_time": f"2026-01-01T00:00:0{t}Z"})
                               for t in (0, 2, 4)))
    labels.write_text("\n".join(json.dumps({"prediction_id": f"x{t}", "n": f"l{t}",
                                            "event_time": f"2026-01-01T00:00:0{t}Z"})
                                for t in (4, 1, 2)))
    stream = merged(sorted_records(preds, "P", _how(preds))[0],
                    sorted_records(labels, "L", _how(labels, True))[0])
    assert [(topic, json.loads(value)["n"]) for topic, _, value in stream] == [
        ("P", "p0"), ("L", "l1"), ("P", "p2"), ("L", "l2"), ("P", "p4"), ("L", "l4")]


def test_table_rows_need_an_event_time(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    pacsv.write_csv(pa.table({"model_id": ["m"], "prediction": [1], "x": [1.0]}), path)
    result = CliRunner().invoke(main, ["backfill", str(path), "--broker", "127.0.0.1:1"])
    assert result.exit_code == 2
    assert "no column 'event_time'" in result.output


@pytest.mark.parametrize("times", [["2026-01-01T00:00:02Z", None, "2026-01-01T00:00:01Z"]])
def test_table_rows_without_a_time_are_not_dated_now(tmp_path: Path,
                                                     times: list[str | None]) -> None:
    path = tmp_path / "p.csv"
    pacsv.write_csv(pa.table({"model_id": ["m"] * 3, "prediction": [1, 0, 1],
                              "event_time": pa.array(times, pa.string())}), path)
    records, unordered = sorted_records(path, "P", _how(path))
    assert [json.loads(r[4])["event_time"] for r in records] == [
        None, "2026-01-01T00:00:01.000Z", "2026-01-01T00:00:02.000Z"]
    assert unordered == 2
