"""Event contracts: the CloudEvents envelope, the v1 catalogue, upcasters and the Kafka binding."""

from shared.events.base import EventPayload
from shared.events.envelope import DEFAULT_TENANT, Envelope
from shared.events.kafka import KafkaRecord, UndecodableEvent, decode, encode
from shared.events.registry import ALL_EVENTS, REGISTRY, model_for

__all__ = [
    "ALL_EVENTS",
    "DEFAULT_TENANT",
    "REGISTRY",
    "Envelope",
    "EventPayload",
    "KafkaRecord",
    "UndecodableEvent",
    "decode",
    "encode",
    "model_for",
]
