"""Sends in flight, batch by batch: which input offsets are safe to commit.

The session never waits on the producer after a batch. It hands the batch's sends (predictions
and dead letters) here with the input offsets the batch ends at, and later asks which offsets
are *acknowledged*: those of the newest batch such that it and every batch before it had all
their sends acknowledged by the broker. Committing only those keeps delivery at-least-once: no
input offset is committed before every output record at or below it is stored.

>>> class Sent:  # a delivery handle: acknowledged yet, and the error if it failed
...     def __init__(self): self.is_done, self.exception = False, None
>>> first, second = [Sent(), Sent()], [Sent()]
>>> inflight = InFlight()
>>> inflight.add(first, {("in", 0): 2})
>>> inflight.add(second, {("in", 0): 3})
>>> second[0].is_done = True
>>> inflight.acknowledged() is None  # the first batch still waits
True
>>> for sent in first: sent.is_done = True
>>> inflight.acknowledged(), len(inflight)
({('in', 0): 3}, 0)
"""

from __future__ import annotations

from collections import deque

from .errors import KafkaFailure

__all__ = ["InFlight"]


class InFlight:
    """Batches whose sends may not all be acknowledged yet, oldest first."""

    def __init__(self):
        self._batches: deque[tuple[list, dict]] = deque()
        self._checked = 0  # sends of the oldest batch already seen acknowledged

    def __len__(self) -> int:
        return len(self._batches)

    def add(self, sends: list, offsets: dict[tuple[str, int], int]) -> None:
        """A batch's delivery handles and the next input offset of each partition after it."""
        self._batches.append((sends, dict(offsets)))

    def acknowledged(self) -> dict[tuple[str, int], int] | None:
        """Drop the batches acknowledged in full, oldest first; the offsets after the last one.

        None when the oldest batch still waits. Raises :class:`KafkaFailure` if a send failed:
        nothing from its batch on may be committed.
        """
        offsets = None
        while self._batches:
            sends, after = self._batches[0]
            for i in range(self._checked, len(sends)):
                sent = sends[i]
                if not sent.is_done:
                    self._checked = i
                    return offsets
                if sent.exception is not None:
                    raise KafkaFailure(f"a send failed: {sent.exception}; not committing")
            self._batches.popleft()
            self._checked = 0
            offsets = after
        return offsets

    def clear(self) -> None:
        """Forget every batch (after a failure the clients and their sends are gone)."""
        self._batches.clear()
        self._checked = 0
