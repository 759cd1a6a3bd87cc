"""Message schema: decoding and validation of instances, encoding of predictions and dead letters.

An input message is a JSON (or MessagePack) object::

    {"id": "a1", "x": {"feature": 0.5, ...}, "y": ["label", ...]}

``id`` is a string or an integer, ``x`` maps feature names to finite numbers (NaN, infinities and
integers beyond the float range are refused as ``non_finite``), and ``y`` (optional) lists the
positive labels, all from the vocabulary. A message without ``y`` is only predicted. A prediction
is::

    {"id": "a1", "labels": [...], "scores": {"label": p, ...}, "model_version": n}

keyed by the id, where ``model_version`` is the number of instances the model had learned when it
predicted. Anything else is refused with an :class:`InvalidMessage` whose ``reason`` is one short
code (the dead-letter metric's label) and whose ``detail`` says what was wrong.

Examples
--------
>>> codec = Codec(["a", "b"], max_message_bytes=1000)
>>> codec.decode(b'{"id": 7, "x": {"f": 1.5}, "y": ["b"]}')
Instance(id=7, x={'f': 1.5}, y={'a': False, 'b': True})
>>> codec.decode(b'{"id": 7, "x": {"f": NaN}}')
Traceback (most recent call last):
...
service.codec.InvalidMessage: non_finite: feature 'f' is NaN, infinite or beyond the float range
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from numbers import Real

import orjson

__all__ = ["REASONS", "Codec", "Instance", "InvalidMessage", "dead_letter_headers"]

REASONS = (
    "too_large",
    "undecodable",
    "not_an_object",
    "bad_id",
    "bad_features",
    "non_finite",
    "too_many_features",
    "bad_labels",
    "unknown_label",
    "too_many_labels",
)
"""Every dead-letter reason code."""


_PLAIN = (float, int)


class InvalidMessage(ValueError):
    """A message the service cannot use; it goes to the dead-letter topic."""

    def __init__(self, reason: str, detail: str):
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


@dataclass
class Instance:
    """One decoded instance: ``y`` maps every label to a bool, or is None when unlabelled."""

    id: str | int
    x: dict[str, float]
    y: dict[str, bool] | None


def _loads_json(raw: bytes):
    """orjson's parse (5x the standard library's). What it refuses (NaN and infinity literals,
    numbers beyond the float range) goes to the standard parser, so that validation names the
    reason; so does a float id, which may be an integer beyond 64 bits that orjson read as a
    float (an integer id is valid at any size)."""
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)
    if type(message) is dict and type(message.get("id")) is float:
        return json.loads(raw)
    return message


def _dumps_json(message) -> bytes:
    """orjson's compact JSON (10x the standard library's); an id beyond 64 bits, which orjson
    cannot write, goes through the standard writer."""
    try:
        return orjson.dumps(message)
    except TypeError:
        return json.dumps(message, separators=(",", ":")).encode()


def _loads_msgpack(raw: bytes):
    import msgpack

    return msgpack.unpackb(raw, raw=False, strict_map_key=False)


class Codec:
    """Decode and validate instances, encode predictions, for one label vocabulary and format.

    Parameters
    ----------
    labels
        The label vocabulary; ``y`` may use only these.
    format
        ``"json"`` or ``"msgpack"``, for input and output alike.
    max_message_bytes
        Larger raw values are refused before decoding (the broker may not enforce a limit).
    max_features
        Most features one instance may have.
    max_labels
        Most labels one ``y`` may list (default: the vocabulary size).
    """

    def __init__(
        self,
        labels: list[str],
        format: str = "json",
        max_message_bytes: int = 1_048_576,
        max_features: int = 100_000,
        max_labels: int | None = None,
    ):
        if format not in ("json", "msgpack"):
            raise ValueError(f"format must be 'json' or 'msgpack', got {format!r}")
        self.labels = list(labels)
        self.format = format
        self.max_message_bytes = max_message_bytes
        self.max_features = max_features
        self.max_labels = len(self.labels) if max_labels is None else max_labels
        self._known = frozenset(self.labels)
        self._negatives = dict.fromkeys(self.labels, False)
        self._loads = _loads_json if format == "json" else _loads_msgpack
        if format == "json":
            self._dumps = _dumps_json
        else:
            import msgpack

            self._dumps = msgpack.packb

    def decode(self, raw: bytes | None) -> Instance:
        """The instance in ``raw``, or :class:`InvalidMessage` saying why not."""
        if raw is None:
            raise InvalidMessage("undecodable", "the message has no value (tombstone)")
        if len(raw) > self.max_message_bytes:
            raise InvalidMessage(
                "too_large", f"{len(raw)} bytes, more than the limit of {self.max_message_bytes}"
            )
        try:
            message = self._loads(raw)
        except Exception as error:  # noqa: BLE001 - any decoder failure means undecodable
            raise InvalidMessage("undecodable", f"not valid {self.format}: {error}") from None
        if not isinstance(message, dict):
            raise InvalidMessage(
                "not_an_object", f"expected an object, got {type(message).__name__}"
            )
        return Instance(message_id(message), self._features(message), self._labels(message))

    def _features(self, message: dict) -> dict[str, float]:
        x = message.get("x")
        if not isinstance(x, dict):
            raise InvalidMessage("bad_features", f"'x' must be an object, got {type(x).__name__}")
        if len(x) > self.max_features:
            raise InvalidMessage(
                "too_many_features",
                f"{len(x)} features, more than the limit of {self.max_features}",
            )
        values = x.values()
        # Fast path for the common message: NaN and inf survive a sum, so a finite sum means every
        # value is finite (an overflowing sum of finite values falls through to the checks below).
        if (
            all(type(name) is str for name in x)
            and all(type(v) in _PLAIN for v in values)
            and _finite_sum(values)
        ):
            return x
        for name, value in x.items():
            if not isinstance(name, str):
                raise InvalidMessage("bad_features", f"feature name {name!r} is not a string")
            if isinstance(value, bool) or not isinstance(value, Real):
                raise InvalidMessage(
                    "bad_features", f"feature {name!r} is {type(value).__name__}, not a number"
                )
            if not _finite(value):
                raise InvalidMessage(
                    "non_finite", f"feature {name!r} is NaN, infinite or beyond the float range"
                )
        return x

    def _labels(self, message: dict) -> dict[str, bool] | None:
        if "y" not in message or message["y"] is None:
            return None
        y = message["y"]
        if not isinstance(y, list):
            raise InvalidMessage("bad_labels", f"'y' must be a list, got {type(y).__name__}")
        if len(y) > self.max_labels:
            raise InvalidMessage(
                "too_many_labels", f"{len(y)} labels, more than the limit of {self.max_labels}"
            )
        truth = dict(self._negatives)
        for label in y:
            if not isinstance(label, str):
                raise InvalidMessage("bad_labels", f"label {label!r} is not a string")
            if label not in self._known:
                raise InvalidMessage("unknown_label", f"label {label!r} is not in the vocabulary")
            truth[label] = True
        return truth

    def encode_instance(self, id: str | int, x: dict, positives: list[str] | None) -> bytes:
        """An input message (producers, tests and the demo use it)."""
        message = {"id": id, "x": x}
        if positives is not None:
            message["y"] = positives
        return self._dumps(message)

    def encode_prediction(self, id, predicted: dict, proba: dict, model_version: int) -> bytes:
        """The output message for one prediction."""
        return self._dumps(
            {
                "id": id,
                "labels": [label for label in self.labels if predicted.get(label)],
                "scores": {label: proba[label][True] if proba else 0.0 for label in self.labels},
                "model_version": model_version,
            }
        )

    def encode_scored(self, id, flags: list, scores: list, model_version: int) -> bytes:
        """The output message from one row of a batch scorer (columns in vocabulary order).

        The same bytes as :meth:`encode_prediction` gives for the same labels and scores.
        """
        return self._dumps(
            {
                "id": id,
                "labels": [label for label, flag in zip(self.labels, flags) if flag],
                "scores": dict(zip(self.labels, scores)),
                "model_version": model_version,
            }
        )

    def decode_output(self, raw: bytes) -> dict:
        """A prediction message back as a dict (readers of the output topic use it)."""
        return self._loads(raw)


def _finite(value: Real) -> bool:
    """Whether ``value`` is a finite float; an integer too large for a float is not."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _finite_sum(values) -> bool:
    """Whether the sum of plain numbers is finite; False also when an integer overflows a float."""
    try:
        return math.isfinite(sum(values))
    except OverflowError:
        return False


def message_id(message: dict) -> str | int:
    """The message's ``id``: a string or an integer (not a bool)."""
    if "id" not in message:
        raise InvalidMessage("bad_id", "the message has no 'id'")
    value = message["id"]
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidMessage("bad_id", f"'id' must be a string or an integer, got {value!r}")
    if isinstance(value, str) and not value.isascii():
        try:
            value.encode()  # the id becomes the prediction's Kafka key
        except UnicodeEncodeError:
            raise InvalidMessage("bad_id", f"'id' {value!r} is not valid Unicode text") from None
    return value


def dead_letter_headers(
    error: InvalidMessage, topic: str, partition: int, offset: int
) -> list[tuple[str, bytes]]:
    """Kafka headers that say why a message was refused and where it came from.

    The dead-letter record's value is the original bytes, so a fixed message can be replayed as is.
    """
    return [
        ("streamlabels.reason", error.reason.encode()),
        ("streamlabels.detail", error.detail.encode()),
        ("streamlabels.topic", topic.encode()),
        ("streamlabels.partition", str(partition).encode()),
        ("streamlabels.offset", str(offset).encode()),
    ]
