"""The producer client for model servers: prediction and label events, validated as the
worker validates them, sent keyed as the worker needs (``docs/events.md``).

``EventProducer`` (synchronous, kafka-python) and ``AsyncEventProducer`` (asyncio,
aiokafka). Importing ``client`` loads only msgspec and the event types
(``streams.decoding.events``); the Kafka library loads when a producer is created.
"""

from __future__ import annotations

from client.aio import AsyncEventProducer
from client.delivery import DeliveryError
from client.producer import EventProducer
from client.records import (
    LABELS_TOPIC,
    PREDICTIONS_TOPIC,
    ClientLimits,
    InvalidEvent,
    Record,
    label_record,
    prediction_record,
)

__all__ = [
    "LABELS_TOPIC", "PREDICTIONS_TOPIC", "AsyncEventProducer", "ClientLimits", "DeliveryError",
    "EventProducer", "InvalidEvent", "Record", "label_record", "prediction_record",
]
