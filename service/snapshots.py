"""Model snapshots over Kafka: the trainer publishes them, scoring replicas follow them.

A snapshot is :meth:`streamlabels.scoring.Snapshot.to_state` encoded by
:func:`streamlabels.state.dumps` (hash-checked, no pickle). Kafka brokers cap message sizes, so
the blob travels as chunks of at most ``chunk_bytes``, each keyed ``<model>/<version>/<i>`` with
headers naming the version, the chunk index, the chunk count and the sha256 of the whole blob.
After the last chunk a manifest keyed ``<model>/latest`` names the newest complete version; the
chunks of older versions are then deleted with tombstones. The topic is created with
``cleanup.policy=compact``, so a compacting broker keeps one manifest and the newest chunk set.

Readers act on manifests only and use a version only if every chunk is there, the reassembled
blob has the manifest's sha256, and it decodes to a snapshot of the expected labels; otherwise
they keep the snapshot they had. ``version`` is the number of instances the model had learned,
the ``model_version`` every prediction carries, and it only grows on the topic: a trainer that
restarts from an older checkpoint publishes again once it has learned past the newest version.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass, field

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from streamlabels.scoring import Snapshot
from streamlabels.state import StateError, dumps, loads

from .errors import KafkaFailure

__all__ = [
    "SnapshotAssembler",
    "SnapshotFollower",
    "SnapshotPublisher",
    "create_snapshot_topic",
    "read_snapshot_topic",
    "snapshot_messages",
]

log = logging.getLogger(__name__)

H_VERSION = "streamlabels.snapshot.version"
H_INDEX = "streamlabels.snapshot.chunk"
H_COUNT = "streamlabels.snapshot.chunks"
H_SHA256 = "streamlabels.snapshot.sha256"


def create_snapshot_topic(bootstrap_servers: str, topic: str, security: dict | None = None) -> None:
    """Create the one-partition, compacted snapshot topic unless it exists.

    One partition keeps every chunk before its manifest in the order readers see them.
    """
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap_servers.split(","),
        client_id="streamlabels-admin",
        **(security or {}),
    )
    try:
        admin.create_topics([NewTopic(topic, 1, 1, topic_configs={"cleanup.policy": "compact"})])
    except TopicAlreadyExistsError:
        pass
    finally:
        admin.close()


def snapshot_messages(
    model: str, version: int, blob: bytes, chunk_bytes: int
) -> tuple[list[tuple[bytes, bytes, list]], bytes]:
    """The chunk messages ``(key, value, headers)`` of ``blob`` and the manifest value."""
    digest = hashlib.sha256(blob).hexdigest()
    pieces = [blob[i : i + chunk_bytes] for i in range(0, len(blob), chunk_bytes)] or [b""]
    chunks = []
    for i, piece in enumerate(pieces):
        headers = [
            (H_VERSION, str(version).encode()),
            (H_INDEX, str(i).encode()),
            (H_COUNT, str(len(pieces)).encode()),
            (H_SHA256, digest.encode()),
        ]
        chunks.append((f"{model}/{version}/{i}".encode(), piece, headers))
    manifest = {
        "model": model,
        "version": version,
        "chunks": len(pieces),
        "sha256": digest,
        "bytes": len(blob),
    }
    return chunks, json.dumps(manifest, separators=(",", ":")).encode()


class SnapshotPublisher:
    """Publishes versioned snapshots of one model through a producer (the trainer's).

    Parameters
    ----------
    producer
        A producer of :mod:`.clients` (a ``KafkaProducer`` is one); :meth:`publish`
        flushes it.
    topic, model
        The snapshot topic and the model's name (the key prefix).
    chunk_bytes
        Most bytes per chunk message.
    """

    def __init__(self, producer, topic: str, model: str, chunk_bytes: int):
        self.producer = producer
        self.topic = topic
        self.model = model
        self.chunk_bytes = chunk_bytes
        self.live: set[bytes] = set()
        self.version = -1

    def adopt(self, assembler: SnapshotAssembler) -> None:
        """Continue after what is already on the topic: its newest version and live chunks."""
        self.version = max(self.version, assembler.published)
        self.live |= assembler.live_keys()

    def publish(self, snapshot: Snapshot) -> bool:
        """Publish ``snapshot`` if it is newer than the newest published version; flush.

        Returns whether it was published. Raises :class:`KafkaFailure` if a send failed.
        """
        version = int(snapshot.n_instances)
        if version <= self.version:
            return False
        chunks, manifest = snapshot_messages(
            self.model, version, dumps(snapshot.to_state()), self.chunk_bytes
        )
        sends = [self.producer.send(self.topic, key=k, value=v, headers=h) for k, v, h in chunks]
        sends.append(
            self.producer.send(self.topic, key=f"{self.model}/latest".encode(), value=manifest)
        )
        self.producer.flush()
        _check(sends)
        stale = sorted(self.live - {key for key, _, _ in chunks})
        tombstones = [self.producer.send(self.topic, key=key, value=None) for key in stale]
        self.producer.flush()
        _check(tombstones)
        self.live = {key for key, _, _ in chunks}
        self.version = version
        return True


def _check(sends: list) -> None:
    """Raise if a flushed send failed: a snapshot is live only once all of it is stored."""
    for sent in sends:
        if sent.exception is not None:
            raise KafkaFailure(f"a snapshot send failed: {sent.exception}")


@dataclass
class _Chunk:
    value: bytes
    count: int
    sha256: str


@dataclass
class SnapshotAssembler:
    """Reassembles snapshots from snapshot-topic records; pure logic, no Kafka.

    Feed records in topic order to :meth:`add`; :meth:`newest` then returns the newest complete,
    intact snapshot named by a manifest, or the one held before. Refusals are logged and counted.
    """

    model: str
    labels: list[str] | None = None
    snapshot: Snapshot | None = None
    version: int = -1
    published: int = -1
    refused: int = 0
    chunks: dict[int, dict[int, _Chunk]] = field(default_factory=dict)
    manifest: dict | None = None
    _tried: tuple = ()

    def add(self, key: bytes | None, value: bytes | None, headers) -> None:
        """Take one record of the snapshot topic (other models' records are ignored)."""
        if key is None:
            return
        text = key.decode("utf-8", "replace")
        prefix = self.model + "/"
        if not text.startswith(prefix):
            return
        rest = text[len(prefix) :]
        if rest == "latest":
            self._manifest(value)
            return
        version, _, index = rest.partition("/")
        if not (version.isdigit() and index.isdigit()):
            return
        version, index = int(version), int(index)
        if value is None:
            self.chunks.get(version, {}).pop(index, None)
            return
        names = {k: v.decode("utf-8", "replace") for k, v in headers or ()}
        try:
            chunk = _Chunk(value, int(names[H_COUNT]), names[H_SHA256])
        except (KeyError, ValueError):
            log.error("snapshot chunk without usable headers", extra={"key": text})
            return
        self.chunks.setdefault(version, {})[index] = chunk

    def _manifest(self, value: bytes | None) -> None:
        try:
            manifest = json.loads(value)
            version = int(manifest["version"])
            int(manifest["chunks"])
            str(manifest["sha256"])
        except (TypeError, ValueError, KeyError) as error:
            log.error("unreadable snapshot manifest", extra={"reason": str(error)})
            return
        self.manifest = manifest
        self.published = max(self.published, version)

    def live_keys(self) -> set[bytes]:
        """Keys of the chunks on the topic that no tombstone has deleted."""
        return {
            f"{self.model}/{version}/{i}".encode()
            for version, chunks in self.chunks.items()
            for i in chunks
        }

    def newest(self) -> Snapshot | None:
        """The newest usable snapshot: the manifest's version if it checks out, else the one held.

        A refused manifest is not tried again; a new manifest (even of the same version) is.
        """
        manifest = self.manifest
        if manifest is None:
            return self.snapshot
        version = int(manifest["version"])
        if version <= self.version or self._tried == (version, manifest["sha256"]):
            return self.snapshot
        self._tried = (version, manifest["sha256"])
        try:
            snapshot = self._assemble(manifest)
        except (StateError, ValueError, TypeError, KeyError) as error:
            self.refused += 1
            log.error(
                "snapshot refused, keeping the previous one",
                extra={"version": version, "kept": self.version, "reason": str(error)},
            )
            return self.snapshot
        self.snapshot, self.version = snapshot, version
        for old in [v for v in self.chunks if v < version]:
            del self.chunks[old]
        return snapshot

    def _assemble(self, manifest: dict) -> Snapshot:
        version, count, digest = manifest["version"], manifest["chunks"], manifest["sha256"]
        have = self.chunks.get(version, {})
        missing = [i for i in range(count) if i not in have]
        if missing:
            raise ValueError(f"version {version} lacks chunks {missing[:5]} of {count}")
        parts = [have[i] for i in range(count)]
        if any(p.count != count or p.sha256 != digest for p in parts):
            raise ValueError(f"version {version}: chunk headers disagree with the manifest")
        blob = b"".join(p.value for p in parts)
        if hashlib.sha256(blob).hexdigest() != digest:
            raise ValueError(f"version {version}: the reassembled bytes fail the sha256 check")
        snapshot = Snapshot.from_state(loads(blob))
        if snapshot.n_instances != version:
            raise ValueError(f"version {version} holds a model of {snapshot.n_instances} instances")
        if self.labels is not None and snapshot.labels != self.labels:
            raise ValueError(
                f"version {version} has labels {snapshot.labels}, the service {self.labels}"
            )
        return snapshot


class SnapshotFollower:
    """A daemon thread that reads the snapshot topic from the beginning and keeps the newest
    usable snapshot in :attr:`snapshot`, so a scorer swaps models between batches without pausing.

    Parameters
    ----------
    consumer_config
        Keyword arguments for the ``KafkaConsumer`` (servers, security).
    topic, model, labels
        The snapshot topic, the model's name, and the labels a usable snapshot must have.
    on_load, on_refuse
        Called with each newly loaded snapshot, and after each refused one, on the follower's
        thread.
    """

    def __init__(
        self, consumer_config: dict, topic: str, model: str, labels, on_load=None, on_refuse=None
    ):
        self.topic = topic
        self.assembler = SnapshotAssembler(model, list(labels))
        self.on_load = on_load
        self.on_refuse = on_refuse
        self.error: BaseException | None = None
        self._config = consumer_config
        self._stop = threading.Event()
        self._loaded = threading.Event()
        self._thread = threading.Thread(target=self._run, name="snapshot-follower", daemon=True)

    @property
    def snapshot(self) -> Snapshot | None:
        return self.assembler.snapshot

    def start(self) -> SnapshotFollower:
        self._thread.start()
        return self

    def wait(self, timeout: float) -> bool:
        """Whether a snapshot is held, waiting up to ``timeout`` seconds for the first one."""
        return self._loaded.wait(timeout)

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _run(self) -> None:
        consumer = KafkaConsumer(
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id="streamlabels-snapshot-follower",
            **self._config,
        )
        try:
            partition = TopicPartition(self.topic, 0)
            consumer.assign([partition])
            consumer.seek_to_beginning(partition)
            while not self._stop.is_set():
                for records in consumer.poll(timeout_ms=200).values():
                    for record in records:
                        self.assembler.add(record.key, record.value, record.headers)
                if not _caught_up(consumer, partition):
                    continue  # catching up: only the newest manifest is worth assembling
                held, refused = self.assembler.version, self.assembler.refused
                snapshot = self.assembler.newest()
                if self.assembler.refused != refused and self.on_refuse is not None:
                    self.on_refuse()
                if snapshot is not None and self.assembler.version != held:
                    log.info("snapshot loaded", extra={"model_version": self.assembler.version})
                    self._loaded.set()
                    if self.on_load is not None:
                        self.on_load(snapshot)
        except BaseException as error:  # noqa: BLE001 - the scorer reads it and stops
            self.error = error
            log.exception("snapshot follower failed")
        finally:
            consumer.close(autocommit=False)


def _caught_up(consumer: KafkaConsumer, partition: TopicPartition) -> bool:
    """Whether the consumer has read to the high-water mark (``end_offsets`` can be wrong)."""
    highwater = consumer.highwater(partition)
    return highwater is not None and consumer.position(partition) >= highwater


def read_snapshot_topic(
    consumer_config: dict, topic: str, model: str, timeout: float = 60.0
) -> SnapshotAssembler:
    """Everything on the snapshot topic about ``model``, read to its end (nothing assembled).

    The trainer reads it on start to continue the version sequence and to know which old chunks
    still need tombstones.
    """
    assembler = SnapshotAssembler(model)
    consumer = KafkaConsumer(
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id="streamlabels-snapshot-reader",
        **consumer_config,
    )
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        consumer.seek_to_beginning(partition)
        deadline = time.monotonic() + timeout
        while True:
            for records in consumer.poll(timeout_ms=200).values():
                for record in records:
                    assembler.add(record.key, record.value, record.headers)
            if _caught_up(consumer, partition):
                return assembler
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read snapshot topic {topic!r} to its end")
    finally:
        consumer.close(autocommit=False)
