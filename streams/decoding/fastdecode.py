"""Columnar decoding of a prediction batch with Arrow's JSON reader (the ingest fast path).

The per-event path (``streams.decoding.events`` + ``streams.decoding.columns``) builds a Python
object for every feature value; this one parses the batch's payloads, joined by
newlines, with ``pyarrow.json.read_json`` (C++, the GIL released) and builds the
same ``ModelBatch`` columns from the Arrow columns, validating them vectorised.
The result is the one the per-event path gives, to the array, and so are the
dead letters, because every doubt is settled by that path:

- a payload that is empty, oversize, not one plain ``{…}`` line, not UTF-8, or
  with more brackets than ``MAX_DEPTH`` (it might nest deeper than the event contract
  allows, and deep nesting overflows Arrow's recursive parser) goes to the per-event
  decoder, which measures the depth before any parser sees it; so does a row the
  vectorised checks cannot accept (a required field null or absent, an empty text,
  an event time outside the common RFC 3339 form (``streams.decoding.arrowtime``) or the
  ingest limits, an
  unknown model under ``reject``, NaN/Infinity literals, a non-finite score, a
  nested feature or prediction value, a segment that is not an object of text);
- a row Arrow refuses to parse is moved to the per-event decoder and the rest
  parsed again (a few times at most);
- if the per-event decoder *accepts* any of those rows, or a column cannot be
  read the same way (mixed kinds that Arrow refuses, a feature that is null in
  every row of a model's group, so absent and null cannot be told apart), the
  whole batch goes the per-event way.

Batches under ``min_rows`` events take the per-event path (Arrow's fixed cost
is larger than the work there), and so do batches that look like a flood of
feature names (``looks_flooded``): Arrow builds a struct field for every distinct
name of the batch, null in every row without it (events x names, a few seconds
for 500 events with 10,000 names), and a batch with more than ``MAX_FEATURES``
names would go the per-event way after that anyway. Both paths build only the
columns within a model version's ``NameBudget`` (``streams.decoding.columns``).
"""

from __future__ import annotations

import random
import re
import sys
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
from numpy.typing import NDArray

from streams.config.settings import IngestSettings
from streams.decoding.arrowtime import epoch_micros, parse_times
from streams.decoding.columns import (
    Budgets,
    Column,
    ModelBatch,
    column_name,
    row_keys_of,
    to_model_batches,
    within,
)
from streams.decoding.events import (
    MAX_FEATURES,
    MAX_ID_CHARS,
    MAX_NAME_CHARS,
    PRINTABLE,
    DeadLetter,
    Limits,
    Message,
    decode_predictions,
    limits_for,
)
from streams.decoding.problems import MAX_DEPTH

MIN_ROWS = 64
SAMPLED_ROWS = 32  # rows whose keys ``looks_flooded`` reads
MAX_REPARSE = 4
SHARED_TEXTS = 1_024  # distinct texts of a batch column shared across batches, at most
_TOP = pa.schema([("event_id", pa.string()), ("model_id", pa.string()),
                  ("model_version", pa.string()), ("event_time", pa.string()),
                  ("prediction_id", pa.string()), ("score", pa.float64())])
_ROW = re.compile(r"in row (\d+)")
_KEY = re.compile(rb'"((?:[^"\\]|\\.)*)"\s*:')  # an object key of a JSON text
_NAME = re.compile(PRINTABLE.replace("]*", f"]{{0,{MAX_NAME_CHARS}}}"))  # a valid name
_CONTROL = "[\\x{00}-\\x{1f}\\x{7f}-\\x{9f}]"  # RE2 (Arrow) for PRINTABLE's complement
_BOOL_TEXT = np.array(["false", "true"], dtype=object)
_VALUE, _PARTITION, _OFFSET = attrgetter("value"), attrgetter("partition"), attrgetter("offset")


@dataclass
class DecodedColumns:
    """The batch's columns per (model_id, model_version), its dead letters, and how."""

    batches: dict[tuple[str, str], ModelBatch]
    dead_letters: list[DeadLetter]
    n_events: int
    columnar: bool
    # The columns of the batch's backfill events (``streams.decoding.backfill``), decoded apart
    # under
    # their own limits and applied after ``batches``.
    backfill: dict[tuple[str, str], ModelBatch] = field(default_factory=dict)


def decode_prediction_columns(
    messages: Sequence[Message], *, now: datetime, ingest: IngestSettings,
    known_models: Collection[str] | None = None, min_rows: int = MIN_ROWS,
    budgets: Budgets | None = None,
) -> DecodedColumns:
    """Decode, validate and build the columns of a batch (see the module docstring);
    ``budgets`` bound the feature columns built per model version."""
    limits = limits_for(now, ingest, known_models)
    if len(messages) >= min_rows and not looks_flooded(messages):
        fast = _columnar(messages, limits, now, ingest, known_models, budgets)
        if fast is not None:
            return fast
    decoded = decode_predictions(messages, now=now, ingest=ingest, known_models=known_models)
    return DecodedColumns(to_model_batches(decoded.events, decoded.positions, budgets),
                          decoded.dead_letters, len(decoded.events), False)


def looks_flooded(messages: Sequence[Message], sampled: int = SAMPLED_ROWS) -> bool:
    """Whether the batch seems to name more than ``MAX_FEATURES`` distinct keys.

    Reads the keys of ``sampled`` rows spread over the batch and extrapolates
    the keys seen in one sampled row only to the rows not sampled (a flood's new
    names are seen once; the names every event carries, many times). A cheap
    guess for the choice of path: either path gives the same columns.
    """
    step = max(1, len(messages) // sampled)
    start = random.randrange(step)  # rows a producer cannot line its flood up between
    rows = [_KEY.findall(m.value or b"") for m in messages[start::step]]
    seen: dict[bytes, int] = {}
    for keys in rows:
        for key in set(keys):
            seen[key] = seen.get(key, 0) + 1
    once = sum(1 for count in seen.values() if count == 1)
    return len(seen) + once * (step - 1) > MAX_FEATURES


def _split(messages: Sequence[Message], max_bytes: int
           ) -> tuple[list[int], list[int], list[bytes], bytes | None]:
    """(rows of plain one-line ``{…}`` payloads within the size limit, the other rows,
    the payloads of the first, and those payloads joined by newlines when they are
    all the rows), checked on the joined values at once."""
    values: list[bytes] = list(map(_VALUE, messages))
    if None in values:
        values = [v or b"" for v in values]
    sizes = np.fromiter(map(len, values), np.int64, len(values))
    joined = b"\n".join(values)
    buffer = np.frombuffer(joined, np.uint8)
    starts = np.cumsum(sizes + 1) - (sizes + 1)
    ends = starts + sizes  # where each row's separator (or the end) is
    plain = (sizes > 0) & (sizes <= max_bytes)
    if buffer.size:
        # A row with more brackets than MAX_DEPTH may nest too deeply for Arrow's parser: the
        # per-event path measures it (``streams.decoding.problems.too_deep``).
        opening = (buffer == 0x7B) | (buffer == 0x5B)
        plain &= np.add.reduceat(opening, np.minimum(starts, buffer.size - 1),
                                 dtype=np.int64) <= MAX_DEPTH
        first, last = np.where(plain, starts, 0), np.where(plain, ends - 1, 0)
        plain &= (buffer[first] == 0x7B) & (buffer[last] == 0x7D)
    if joined.count(b"\n") >= len(values) or b"\r" in joined:
        breaks = np.flatnonzero((buffer == 0x0A) | (buffer == 0x0D))
        row = np.searchsorted(starts, breaks, side="right") - 1
        plain[row[breaks < ends[row]]] = False  # a break inside the row, not its separator
    if plain.all():
        return list(range(len(values))), [], values, joined
    rows = np.flatnonzero(plain).tolist()
    return rows, np.flatnonzero(~plain).tolist(), [values[i] for i in rows], None


def _read(data: bytes, schema: pa.Schema) -> pa.Table:
    return pj.read_json(pa.BufferReader(data),
                        read_options=pj.ReadOptions(use_threads=False, block_size=len(data) + 1),
                        parse_options=pj.ParseOptions(explicit_schema=schema))


def _untimed(kind: pa.DataType) -> pa.DataType:
    """``kind`` with inferred timestamps read as text again (JSON has no timestamps)."""
    if pa.types.is_timestamp(kind):
        return pa.string()
    if pa.types.is_struct(kind):
        return pa.struct([pa.field(f.name, _untimed(f.type)) for f in kind])
    return kind


def _parse(payloads: list[bytes], rows: list[int], slow: list[int],
           joined: bytes | None = None) -> pa.Table | None:
    """Parse ``payloads`` (``joined``: them joined by newlines, if at hand); a row Arrow
    refuses moves from ``rows`` to ``slow``.

    None when the payloads are not all UTF-8 (Arrow does not check text), when a
    payload holds more than one document, or after ``MAX_REPARSE`` refusals.
    """
    for attempt in range(MAX_REPARSE):
        data = joined if attempt == 0 and joined is not None else b"\n".join(payloads)
        if attempt == 0 and not data.isascii():
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                return None
        try:
            table = _read(data, _TOP)
        except (pa.ArrowInvalid, ValueError) as error:
            found = _ROW.search(str(error))
            if found is None or int(found.group(1)) >= len(rows):
                return None
            index = int(found.group(1))
            slow.append(rows.pop(index))
            payloads.pop(index)
            continue
        if len(table) != len(payloads):
            return None  # a payload held more than one document
        retyped = pa.schema([pa.field(f.name, _untimed(f.type)) for f in table.schema])
        return table if retyped == table.schema else _read(data, retyped)
    return None


def _mask(array: Any) -> NDArray[np.bool_]:
    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=bool)


def _text_ok(column: pa.Array, max_chars: int = MAX_ID_CHARS) -> NDArray[np.bool_]:
    """Rows with a non-empty text of at most ``max_chars`` characters."""
    return _mask(pc.greater(pc.binary_length(column), 0)) & _length_ok(column, max_chars)


def _length_ok(column: pa.Array, max_chars: int) -> NDArray[np.bool_]:
    return _mask(pc.less_equal(pc.utf8_length(column), max_chars))


def _name_ok(column: pa.Array) -> NDArray[np.bool_]:
    """Rows whose text is a valid name (``streams.decoding.events.Name``), nulls aside."""
    return _length_ok(column, MAX_NAME_CHARS) & ~_mask(pc.match_substring_regex(
        column, _CONTROL))


def _names_ok(kind: pa.StructType, at_most: int) -> bool:
    """Whether a struct's field names (features, segment keys) are all valid names."""
    return kind.num_fields <= at_most and all(_NAME.search(f.name) for f in kind)


def _plain_value_ok(column: pa.Array) -> NDArray[np.bool_]:
    """Rows whose value (a feature or the prediction) the columns can take as parsed."""
    kind = column.type
    if pa.types.is_floating(kind):
        return _mask(pc.or_kleene(pc.is_null(column), pc.is_finite(column)))
    if kind in (pa.int64(), pa.bool_(), pa.string(), pa.null()):
        return np.ones(len(column), dtype=bool)
    return _mask(pc.is_null(column))


def _segment_ok(column: pa.Array) -> NDArray[np.bool_]:
    present = _mask(pc.is_valid(column))
    if not pa.types.is_struct(column.type) or not _names_ok(column.type, column.type.num_fields):
        return ~present
    ok = np.ones(len(column), dtype=bool)
    for index, child in enumerate(column.type):
        values = column.field(index)
        if child.type == pa.string():
            ok &= (_mask(pc.is_valid(values)) & _name_ok(values)) | ~present
        else:
            ok &= ~present
    return ok


def _validate(table: pa.Table, payloads: list[bytes], limits: Limits
              ) -> tuple[NDArray[np.bool_], NDArray[np.int64]]:
    """(rows accepted as they are, event times in epoch microseconds)."""
    def column(name: str) -> pa.Array:
        return table.column(name).combine_chunks()

    model = column("model_id")
    ok = _text_ok(column("event_id")) & _text_ok(model) & _name_ok(model)
    version = column("model_version")
    ok &= (_text_ok(version) & _name_ok(version)) | _mask(pc.is_null(version))
    prediction_id = column("prediction_id")
    ok &= _length_ok(prediction_id, MAX_ID_CHARS) | _mask(pc.is_null(prediction_id))
    for row in np.flatnonzero(ok & _mask(pc.is_null(version))).tolist():
        ok[row] = b'"model_version"' not in payloads[row]  # null (an error) or absent
    micros, read = parse_times(column("event_time"))
    ok &= read & (micros <= epoch_micros(limits.latest)) & (micros >= epoch_micros(limits.earliest))
    if limits.known is not None:
        ok &= _mask(pc.is_in(column("model_id"), value_set=pa.array(sorted(limits.known),
                                                                       pa.string())))
    score = column("score")
    ok &= _mask(pc.or_kleene(pc.is_null(score), pc.is_finite(score)))
    names = table.column_names
    features = column("features") if "features" in names else None
    if (features is None or not pa.types.is_struct(features.type)
            or not _names_ok(features.type, MAX_FEATURES)):
        return np.zeros(len(table), dtype=bool), micros
    ok &= _mask(pc.is_valid(features))
    for index in range(features.type.num_fields):
        ok &= _plain_value_ok(features.field(index))
    if "prediction" in names:
        ok &= _plain_value_ok(column("prediction"))
    if "segment" in names:
        ok &= _segment_ok(column("segment"))
    return ok, micros


def _to_numpy(column: pa.Array) -> tuple[NDArray[Any], NDArray[np.bool_]]:
    """(float64 or object array, missing mask), as ``streams.decoding.columns.build_column``."""
    missing = _mask(pc.is_null(column))
    kind = column.type
    if kind == pa.null():
        return np.full(len(column), np.nan), missing
    if kind == pa.int64() or pa.types.is_floating(kind):
        values = np.array(pc.fill_null(column, 0).to_numpy(zero_copy_only=False),
                            dtype=np.float64)
        values[missing] = np.nan
        return values, missing
    if kind == pa.bool_():
        text = _BOOL_TEXT[_mask(column).astype(np.intp)]
        text[missing] = None
        return text, missing
    if kind == pa.string():
        return _shared_strings(column), missing
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=object), missing


def _shared_strings(column: pa.Array) -> NDArray[Any]:
    """Text as an object array with one ``str`` per distinct value (None for null).

    The rows of a category share its ``str``, so a window's row sample holds a
    pointer per value rather than a string per value. A column with at most
    ``SHARED_TEXTS`` distinct values in the batch (a category, not an id) also
    shares them with earlier batches (``sys.intern``; a text nothing refers to
    any more is freed).
    """
    encoded = column.dictionary_encode()
    distinct = encoded.dictionary.to_numpy(zero_copy_only=False)
    names = np.empty(len(distinct) + 1, dtype=object)  # the last one stands for null
    names[:-1] = [sys.intern(t) for t in distinct] if len(distinct) <= SHARED_TEXTS \
        else distinct
    codes = pc.fill_null(encoded.indices, len(distinct)).to_numpy(zero_copy_only=False)
    return names[codes]  # type: ignore[no-any-return]


def _groups(table: pa.Table, rows: NDArray[np.intp]) -> dict[tuple[str, str], NDArray[np.intp]]:
    """Row indices per (model_id, model_version), groups in order of first appearance."""
    ids = table.column("model_id").combine_chunks().take(pa.array(rows)).dictionary_encode()
    versions = pc.fill_null(table.column("model_version").combine_chunks().take(pa.array(rows)),
                            "1").dictionary_encode()
    id_codes = np.asarray(ids.indices.to_numpy(), np.int64)
    codes = id_codes * len(versions.dictionary) + np.asarray(versions.indices.to_numpy(),
                                                             np.int64)
    unique, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
    id_names, version_names = ids.dictionary.to_pylist(), versions.dictionary.to_pylist()
    groups = {}
    for group in np.argsort(first, kind="stable").tolist():
        code = int(unique[group])
        key = (id_names[code // len(version_names)], version_names[code % len(version_names)])
        groups[key] = rows[np.flatnonzero(inverse == group)]
    return groups


def _build(table: pa.Table, rows: NDArray[np.intp], micros: NDArray[np.int64],
           keys: NDArray[np.uint64], budgets: Budgets | None = None,
           ) -> dict[tuple[str, str], ModelBatch] | None:
    """The ModelBatches of the accepted ``rows`` (``keys``: theirs, in order); None when a
    column is ambiguous. A feature column is built only within its version's budget."""
    features = table.column("features").combine_chunks()
    fields = [f.name for f in features.type]
    nulls = [_mask(pc.is_null(features.field(i))) for i in range(len(fields))]
    at = {name: i for i, name in enumerate(fields)}
    arrays: dict[int, NDArray[Any]] = {}  # built when a group first needs them

    def column(index: int, group: NDArray[np.intp]) -> Column:
        if index not in arrays:
            arrays[index] = _to_numpy(features.field(index))[0]
        return arrays[index][group], nulls[index][group]

    outputs = {name: (_to_numpy(table.column(name).combine_chunks())
                      if name in table.column_names else None)
               for name in ("prediction", "score")}
    ids = np.asarray(table.column("prediction_id").combine_chunks()
                     .to_numpy(zero_copy_only=False), dtype=object)
    times = micros / 1e6
    batches: dict[tuple[str, str], ModelBatch] = {}
    for key, group in _groups(table, rows).items():
        absent = [n[group] for n in nulls]
        if any(a.all() for a in absent):  # absent (no column) or null (a column)? Arrow cannot say
            return None
        budget = budgets(*key) if budgets is not None else None
        chosen, skipped = within(fields, budget) if budget is not None else (fields, [])
        columns: dict[str, NDArray[Any]] = {}
        missing: dict[str, NDArray[np.bool_]] = {}
        for feature in chosen:
            name = column_name(feature)
            columns[name], missing[name] = column(at[feature], group)
        feature_names = tuple(columns)
        for name, output in outputs.items():
            if output is None or output[1][group].all():  # all missing: numeric, as per event
                columns[name] = np.full(len(group), np.nan)
                missing[name] = np.ones(len(group), dtype=bool)
            else:
                columns[name], missing[name] = output[0][group], output[1][group]
        batch = ModelBatch(key[0], key[1], times[group], keys[np.searchsorted(rows, group)],
                           columns, missing, feature_names, ids[group])
        if skipped:
            _skip(batch, skipped, absent, at, group, column)
        batches[key] = batch
    return batches


def _skip(batch: ModelBatch, skipped: list[str], absent: list[NDArray[np.bool_]],
          at: dict[str, int], group: NDArray[np.intp],
          column: Callable[[int, NDArray[np.intp]], Column]) -> None:
    """Note the skipped features of ``batch`` (``streams.decoding.columns.ModelBatch.skipped``)."""
    index = {column_name(f): i for f, i in at.items()}
    batch.skipped = {column_name(f): len(group) - int(np.count_nonzero(absent[at[f]]))
                     for f in skipped}
    batch.order = tuple(index)
    batch.rebuild = lambda name: column(index[name], group)


def _columnar(messages: Sequence[Message], limits: Limits, now: datetime,
              ingest: IngestSettings, known_models: Collection[str] | None,
              budgets: Budgets | None = None) -> DecodedColumns | None:
    rows, slow, payloads, joined = _split(messages, limits.max_bytes)
    table = _parse(payloads, rows, slow, joined)
    if table is None:
        return None
    ok, micros = _validate(table, payloads, limits)
    slow += [rows[i] for i in np.flatnonzero(~ok).tolist()]
    dead: list[DeadLetter] = []
    if slow:
        checked = decode_predictions([messages[i] for i in sorted(slow)], now=now,
                                     ingest=ingest, known_models=known_models)
        if checked.events:
            return None  # a row only the per-event decoder accepts
        dead = checked.dead_letters
    accepted = np.flatnonzero(ok)
    if not accepted.size:
        return DecodedColumns({}, dead, 0, True)
    kept = np.asarray(rows, np.intp)[accepted]
    n = len(messages)
    keys = row_keys_of(np.fromiter(map(_PARTITION, messages), np.int64, n)[kept],
                       np.fromiter(map(_OFFSET, messages), np.int64, n)[kept])
    if accepted.size < len(table):
        # Parsed again without the refused rows: their features must not set the
        # column order or kinds.
        table = _parse([payloads[i] for i in accepted.tolist()], kept.tolist(), [])
        if table is None or len(table) != accepted.size:
            return None
        micros, accepted = micros[accepted], np.arange(accepted.size)
    batches = _build(table, accepted, micros, keys, budgets)
    if batches is None:
        return None
    return DecodedColumns(batches, dead, len(accepted), True)
