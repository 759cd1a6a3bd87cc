"""The service's own failures, shared by the session, the roles and the snapshot publisher."""

from __future__ import annotations

__all__ = ["KafkaFailure", "ServiceError", "is_kafka_error"]


class ServiceError(RuntimeError):
    """The service cannot go on (for example a produce failed); it stops without committing."""


class KafkaFailure(ServiceError):
    """Kafka refused or lost a send; nothing at or after the batch it belongs to is committed."""


def is_kafka_error(error: BaseException) -> bool:
    """Whether it is a Kafka failure: a lost send, or either client library's error."""
    from kafka.errors import KafkaError

    if isinstance(error, (KafkaFailure, KafkaError)):
        return True
    return type(error).__module__.startswith("confluent_kafka")
