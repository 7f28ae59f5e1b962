"""Kafka connectors: a consumer-group source and batching, idempotent producer sinks."""

from __future__ import annotations

from connectors.kafka.security import KafkaSecurity
from connectors.kafka.sink import KafkaProducer, KafkaProducerSettings, KafkaSink, KafkaTransactions
from connectors.kafka.source import KafkaSource, KafkaSourceSettings

__all__ = [
    "KafkaProducer",
    "KafkaProducerSettings",
    "KafkaSecurity",
    "KafkaSink",
    "KafkaSource",
    "KafkaSourceSettings",
    "KafkaTransactions",
]
