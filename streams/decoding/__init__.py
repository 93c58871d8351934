"""Decoding: Kafka record bytes to validated events and feature columns."""
