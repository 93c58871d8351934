"""Light records (``streams.transport.fetching``) against aiokafka's own, on the same fetched bytes.

Each case builds a fetch response's record bytes with aiokafka's own batch
builder (control batches, transactions and compaction gaps patched into the
headers as a broker writes them), hands the same bytes once to aiokafka's
``PartitionRecords`` + ``FetchResult`` and once to the same objects lightened
by ``LightBuffer``, runs the same calls on both (``getall`` with limits,
``getone``, seeks) against aiokafka's real subscription state, and compares
what each call returned, the position after it and whether records are left.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import struct
import weakref
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.consumer.fetcher import (
    READ_COMMITTED,
    READ_UNCOMMITTED,
    FetchResult,
    PartitionRecords,
)
from aiokafka.consumer.subscription_state import SubscriptionState
from aiokafka.errors import CorruptRecordException
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.record.util import calc_crc32c
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.decoding.events import RawMessage
from streams.transport.fetching import (
    AIOKAFKA_VERSION,
    LightBuffer,
    enable_light_fetch,
    unsupported,
)

TP = TopicPartition("t", 3)
ABORT, COMMIT = b"\x00\x00\x00\x00", b"\x00\x00\x00\x01"  # control record keys
CONTROL_MASK, GZIP = 0x20, 1
Step = tuple[str, int | None]  # ("all", limit) | ("one", None) | ("seek", offset)


def batch(base: int, deltas: list[int], *, last: int | None = None, producer_id: int = -1,
          transactional: bool = False, control: bytes | None = None, codec: int = 0) -> bytes:
    """A v2 record batch at ``base`` with records at ``base + delta``, as a broker stores it.

    ``last``: the batch's last offset when compaction removed records after the last
    one kept; ``control``: a control batch with one record of that key.
    """
    builder = DefaultRecordBatchBuilder(2, codec, int(transactional), producer_id, 0,
                                        0 if producer_id >= 0 else -1, 1 << 20)
    for delta in deltas:
        offset = base + delta
        if control is not None:
            builder.append(delta, 1_000 + offset, control, b"\x00\x00\x00\x00\x00\x00", [])
        else:
            builder.append(delta, 1_000 + offset, None if offset % 5 == 0 else b"k%d" % offset,
                           None if offset % 7 == 3 else b"v%d" % offset,
                           [("h", b"%d" % offset)] if offset % 2 else [])
    data = bytearray(builder.build())
    struct.pack_into(">q", data, 0, base)
    if control is not None:
        struct.pack_into(">h", data, 21, struct.unpack_from(">h", data, 21)[0] | CONTROL_MASK)
    if last is not None:
        struct.pack_into(">i", data, 23, last - base)
    struct.pack_into(">I", data, 17, calc_crc32c(bytes(data[21:])))
    return bytes(data)


def fields(record: Any) -> tuple[Any, ...]:
    timestamp = record.timestamp_ms if isinstance(record, RawMessage) else record.timestamp
    return record.topic, record.partition, record.offset, record.key, record.value, timestamp


async def _run(data: bytes, fetch_offset: int, steps: list[Step], light: bool,
               isolation: int, aborted: list[tuple[int, int]], check_crcs: bool
               ) -> list[tuple[Any, ...]]:
    subscription = SubscriptionState()
    subscription.assign_from_user({TP})
    assignment = subscription.subscription.assignment
    state = assignment.state_value(TP)
    state.seek(fetch_offset)
    records = PartitionRecords(TP, MemoryRecords(data), list(aborted), fetch_offset, None, None,
                               check_crcs, isolation)
    result = FetchResult(TP, assignment=assignment, partition_records=records, backoff=0)
    if light:
        LightBuffer()[TP] = result
    seen: list[tuple[Any, ...]] = []
    for kind, argument in steps:
        if not result.has_more():  # the fetcher drops a result then (aiokafka's would fail)
            break
        try:
            if kind == "all":
                got = result.getall(argument)
            elif kind == "one":
                one = result.getone()
                got = [] if one is None else [one]
            else:
                assert argument is not None
                state.seek(argument)
                got = []
        except CorruptRecordException as exc:
            seen.append(("error", str(exc), state.position, result.has_more()))
            continue
        assert all(isinstance(r, RawMessage) == light for r in got)
        seen.append(([fields(r) for r in got], state.position, result.has_more()))
    return seen


def both(data: bytes, fetch_offset: int, steps: list[Step], *, isolation: int = READ_UNCOMMITTED,
         aborted: list[tuple[int, int]] | None = None, check_crcs: bool = True
         ) -> list[tuple[Any, ...]]:
    """What the steps give with aiokafka's records; asserts the light ones give the same."""
    plain, light = (asyncio.run(_run(data, fetch_offset, steps, flag, isolation, aborted or [],
                                     check_crcs)) for flag in (False, True))
    assert light == plain
    return plain


def offsets(seen: list[tuple[Any, ...]]) -> list[list[int]]:
    return [[f[2] for f in step[0]] for step in seen if step[0] != "error"]


def test_records_in_limited_takes_across_batches() -> None:
    data = batch(0, [0, 1, 2, 3]) + batch(4, [0, 1, 2]) + batch(7, [0, 1, 2, 3, 4])
    seen = both(data, 0, [("all", 3), ("all", 1), ("all", 3), ("all", 2), ("all", None)])
    assert offsets(seen) == [[0, 1, 2], [3], [4, 5, 6], [7, 8], [9, 10, 11]]
    assert [(s[1], s[2]) for s in seen] == [(3, True), (4, True), (7, True), (9, True),
                                            (12, False)]


def test_a_take_ending_on_a_batch_end_leaves_the_position_on_its_last_record() -> None:
    data = batch(0, [0, 1]) + batch(10, [0, 1], last=14)  # compaction removed 12 to 14
    seen = both(data, 0, [("all", 2), ("all", 2), ("all", 5)])
    assert offsets(seen) == [[0, 1], [10, 11], []]
    assert [s[1] for s in seen] == [2, 12, 15]


def test_records_below_the_fetch_offset_are_skipped() -> None:
    data = batch(0, [0, 1, 2, 3, 4]) + batch(5, [0, 1])
    assert offsets(both(data, 3, [("all", None)])) == [[3, 4, 5, 6]]
    assert both(data, 7, [("all", None)])[0][1:] == (7, False)


def test_control_batches_are_skipped_and_move_the_position() -> None:
    data = (batch(0, [0, 1], producer_id=4, transactional=True)
            + batch(2, [0], producer_id=4, control=COMMIT)
            + batch(3, [0, 1]) + batch(5, [0], producer_id=4, control=COMMIT))
    for isolation in (READ_UNCOMMITTED, READ_COMMITTED):
        seen = both(data, 0, [("all", 2), ("all", 2), ("all", 9)], isolation=isolation)
        assert offsets(seen) == [[0, 1], [3, 4], []]
        assert [s[1] for s in seen] == [2, 5, 6]


def test_aborted_transactions_are_skipped_only_when_reading_committed() -> None:
    data = (batch(0, [0, 1], producer_id=7, transactional=True)
            + batch(2, [0, 1], producer_id=8, transactional=True)
            + batch(4, [0], producer_id=7, control=ABORT)
            + batch(5, [0], producer_id=8, control=COMMIT)
            + batch(6, [0, 1], producer_id=7, transactional=True))
    aborted = [(7, 0)]
    committed = both(data, 0, [("all", 1), ("all", None)], isolation=READ_COMMITTED,
                     aborted=aborted)
    assert offsets(committed) == [[2], [3, 6, 7]]
    uncommitted = both(data, 0, [("all", None)], aborted=aborted)
    assert offsets(uncommitted) == [[0, 1, 2, 3, 6, 7]]


def test_compressed_batches() -> None:
    data = batch(0, [0, 1, 2], codec=GZIP) + batch(3, [0, 1, 2, 3], codec=GZIP)
    assert offsets(both(data, 1, [("all", 4), ("all", 4)])) == [[1, 2, 3, 4], [5, 6]]


def test_a_corrupt_batch_raises_and_ends_the_fetch_alike() -> None:
    second = bytearray(batch(3, [0, 1, 2]))
    second[-1] ^= 0xFF  # a value byte: the CRC no longer matches
    data = batch(0, [0, 1, 2]) + bytes(second) + batch(6, [0, 1])
    seen = both(data, 0, [("all", 2), ("all", 5), ("all", 5)])
    assert offsets(seen)[0] == [0, 1]
    assert seen[1] == ("error", f"[Error 2] CorruptRecordException: Invalid CRC - {TP}", 2, True)
    assert seen[2] == ([], 2, False)  # record 2, taken before the error, is not handed out
    # Nothing taken before the error: the fetch ends there all the same, nothing after it.
    seen = both(data, 0, [("all", 3), ("all", 5), ("all", 5)])
    assert seen[1:] == [("error", seen[1][1], 3, True), ([], 3, False)]
    unchecked = both(data, 0, [("all", None)], check_crcs=False)
    assert offsets(unchecked) == [[0, 1, 2, 3, 4, 5, 6, 7]]


def test_a_seek_drops_the_fetched_records() -> None:
    data = batch(0, [0, 1, 2, 3])
    seen = both(data, 0, [("all", 1), ("seek", 0), ("all", 5), ("all", 5)])
    assert seen == [(seen[0][0], 1, True), ([], 0, True), ([], 0, False)]


def test_one_at_a_time() -> None:
    data = batch(0, [0, 1]) + batch(2, [0], producer_id=1, control=COMMIT) + batch(3, [0])
    seen = both(data, 0, [("one", None)] * 5)
    assert offsets(seen) == [[0], [1], [3], []]
    assert [s[1:] for s in seen] == [(1, True), (2, True), (4, True), (4, False)]


def test_records_aiokafka_began_to_hand_out_stay_aiokafkas() -> None:
    async def run() -> tuple[list[int], list[int], bool]:
        subscription = SubscriptionState()
        subscription.assign_from_user({TP})
        assignment = subscription.subscription.assignment
        assignment.state_value(TP).seek(0)
        data = batch(0, [0, 1, 2, 3])
        records = PartitionRecords(TP, MemoryRecords(data), [], 0, None, None, True,
                                   READ_UNCOMMITTED)
        result = FetchResult(TP, assignment=assignment, partition_records=records, backoff=0)
        first = result.getall(2)
        LightBuffer()[TP] = result  # as when a consumer is hooked after it fetched
        rest = result.getall(None)
        return ([r.offset for r in first], [r.offset for r in rest],
                result._partition_records is None and type(rest[0]) is type(first[0]))

    assert asyncio.run(run()) == ([0, 1], [2, 3], True)


def test_the_records_a_fetch_lightened_replace_are_freed_without_the_cyclic_collector(
) -> None:
    async def run() -> tuple[bool, list[int]]:
        subscription = SubscriptionState()
        subscription.assign_from_user({TP})
        assignment = subscription.subscription.assignment
        assignment.state_value(TP).seek(0)
        records = PartitionRecords(TP, MemoryRecords(batch(0, [0, 1])), [], 0, None, None,
                                   True, READ_UNCOMMITTED)
        replaced = weakref.ref(records)
        result = FetchResult(TP, assignment=assignment, partition_records=records, backoff=0)
        collecting = gc.isenabled()
        gc.disable()
        try:
            LightBuffer()[TP] = result
            del records
            freed = replaced() is None  # not left in a reference cycle for a collection
        finally:
            if collecting:
                gc.enable()
        return freed, [r.offset for r in result.getall(None)]

    assert asyncio.run(run()) == (True, [0, 1])


@st.composite
def fetches(draw: st.DrawFn) -> tuple[bytes, int, list[Step], int]:
    """Record bytes of random batches, a fetch offset in them and calls to make."""
    parts: list[bytes] = []
    offset = draw(st.integers(0, 3))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["data", "data", "compacted", "control"]))
        if kind == "control":
            parts.append(batch(offset, [0], producer_id=2, control=COMMIT))
            offset += 1
        elif kind == "compacted":
            deltas = sorted(draw(st.sets(st.integers(0, 8), min_size=1, max_size=4)))
            last = offset + deltas[-1] + draw(st.integers(0, 3))
            parts.append(batch(offset, deltas, last=last))
            offset = last + 1
        else:
            n = draw(st.integers(1, 6))
            parts.append(batch(offset, list(range(n))))
            offset += n
    fetch_offset = draw(st.integers(0, offset))
    step = st.one_of(st.tuples(st.just("all"), st.none() | st.integers(1, 7)),
                     st.tuples(st.just("one"), st.none()))
    steps: list[Step] = draw(st.lists(step, min_size=1, max_size=12))
    isolation = draw(st.sampled_from([READ_UNCOMMITTED, READ_COMMITTED]))
    return b"".join(parts), fetch_offset, steps, isolation


@settings(max_examples=200, deadline=None)
@given(fetches())
def test_any_fetch_gives_what_aiokafka_gives(fetch: tuple[bytes, int, list[Step], int]) -> None:
    data, fetch_offset, steps, isolation = fetch
    both(data, fetch_offset, steps, isolation=isolation)


# ----- the guard ----------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_only_a_started_consumer_of_the_known_aiokafka_is_hooked(
        caplog: pytest.LogCaptureFixture) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:9")
    assert unsupported(consumer) == "the consumer is not started"
    assert unsupported(consumer, "0.13.0") == f"aiokafka 0.13.0, written for {AIOKAFKA_VERSION}"
    with caplog.at_level(logging.WARNING, logger="streams.transport.fetching"):
        assert not enable_light_fetch(consumer, "ingest")
    assert [r.getMessage() for r in caplog.records] == [
        "ingest: aiokafka's own records, not light ones (the consumer is not started)"]
    await consumer.stop()
