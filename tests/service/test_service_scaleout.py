"""Scale-out: one trainer publishes snapshots, scorers in one group serve them (issue #9).

The snapshot format's refusals are checked without a broker; the rest runs on the session's test
broker. Waits are bounded polls for a condition, never fixed sleeps.
"""

from __future__ import annotations

import itertools
import json
import signal
import time

import pytest

pytest.importorskip("kafka")
pytest.register_assert_rewrite("service_fixtures")

from kafka import KafkaProducer
from service_fixtures import (
    InThread,
    distinct_ids,
    fresh_topics,
    predictions_by_id,
    service_config,
    service_flags,
    spawn_service,
)

from streamlabels import IHOMER
from streamlabels.scoring import Snapshot, export
from streamlabels.state import dumps
from streamlabels.streams import datasets
from streamlabels_service.codec import Codec
from streamlabels_service.consumer import Service
from streamlabels_service.snapshots import (
    SnapshotAssembler,
    SnapshotPublisher,
    create_snapshot_topic,
    read_snapshot_topic,
    snapshot_messages,
)
from streamlabels_service.topics import TopicReader, create_topics, instance_messages, produce

pytest_plugins = ["service_fixtures"]

LABELS = ["a", "b", "c"]


@pytest.fixture(scope="module")
def yeast(data_dir):
    stream = datasets.load("yeast")
    return list(stream.label_names), list(itertools.islice(stream, 800))


def _model(n: int, labels=LABELS) -> IHOMER:
    model = IHOMER(labels=labels)
    for i in range(n):
        y = {label: (i + k) % (k + 2) == 0 for k, label in enumerate(labels)}
        model.learn_one({"u": float(i % 5), "v": float(i % 3), "w": 1.0}, y)
    return model


def _same(a: Snapshot, b: Snapshot) -> bool:
    return dumps(a.to_state()) == dumps(b.to_state())


def _wait_for(condition, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not reached in {timeout} s: {what}")
        time.sleep(0.05)


# -- the snapshot format, no broker -------------------------------------------------------------


def _feed(assembler: SnapshotAssembler, chunks, manifest, model="m") -> None:
    for key, value, headers in chunks:
        assembler.add(key, value, headers)
    assembler.add(f"{model}/latest".encode(), manifest, [])


def test_a_snapshot_in_many_chunks_reassembles_to_the_same_snapshot():
    snapshot = export(_model(40))
    chunks, manifest = snapshot_messages("m", 40, dumps(snapshot.to_state()), 400)
    assert len(chunks) > 3
    assert chunks[2][0] == b"m/40/2"
    headers = dict(chunks[2][2])
    assert headers["streamlabels.snapshot.chunks"] == str(len(chunks)).encode()
    assembler = SnapshotAssembler("m", LABELS)
    assembler.add(b"other/latest", b"{}", [])  # another model's records are not ours
    _feed(assembler, chunks, manifest)
    assert _same(assembler.newest(), snapshot)
    assert assembler.version == 40


def test_partial_corrupt_or_foreign_snapshots_are_refused_and_the_previous_kept():
    good = export(_model(30))
    assembler = SnapshotAssembler("m", LABELS)
    _feed(assembler, *snapshot_messages("m", 30, dumps(good.to_state()), 500))
    assert assembler.newest() is not None

    def refused(chunks, manifest) -> None:
        before = assembler.refused
        _feed(assembler, chunks, manifest)
        assert _same(assembler.newest(), good)
        assert assembler.version == 30 and assembler.refused == before + 1

    newer = dumps(export(_model(60)).to_state())
    chunks, manifest = snapshot_messages("m", 60, newer, 500)
    flipped = bytearray(chunks[1][1])
    flipped[7] ^= 0xFF
    refused([chunks[0], (chunks[1][0], bytes(flipped), chunks[1][2]), *chunks[2:]], manifest)
    chunks, manifest = snapshot_messages("m", 61, newer, 500)
    refused(chunks[:1] + chunks[2:], manifest)  # a chunk missing
    chunks, manifest = snapshot_messages("m", 62, newer, 500)
    refused(chunks + [(chunks[0][0], None, [])], manifest)  # a chunk deleted by a tombstone
    chunks, manifest = snapshot_messages("m", 63, newer, 500)
    refused(chunks, manifest.replace(b'"chunks":', b'"chunks":1'))  # manifest disagrees
    chunks, manifest = snapshot_messages("m", 64, newer, 500)  # version != instances learned
    refused(chunks, manifest)
    foreign = dumps(export(_model(60, ["a", "b", "z"])).to_state())
    refused(*snapshot_messages("m", 60, foreign, 500))  # other labels
    _feed(assembler, *snapshot_messages("m", 60, newer, 10_000))
    assert assembler.newest().n_instances == 60


# -- on the broker ------------------------------------------------------------------------------


def _scaleout_topics(broker, name: str) -> dict:
    """Fresh topics, with a two-partition input topic and a snapshot topic."""
    topics = fresh_topics(broker, name)
    topics["input_topic"] += "-p2"
    create_topics(broker.bootstrap_servers, [topics["input_topic"]], partitions=2)
    return {**topics, "snapshot_topic": f"snap-{topics['group_id']}"}


def _role(broker, topics, labels, role: str, group: str, **settings):
    config = service_config(
        broker,
        {**topics, "group_id": group},
        labels,
        role=role,
        scaling="standard",
        batch_size=50,
        snapshot_every=100,
        snapshot_seconds=0.5,
        snapshot_chunk_bytes=20_000,
        metrics_port="off",
        **settings,
    )
    return Service(config)


def _published_versions(broker, topics) -> list[int]:
    with TopicReader(broker.bootstrap_servers, topics["snapshot_topic"]) as snaps:
        records = snaps.read_until(lambda r: len(r) > 0)
        end = snaps.consumer.highwater(next(iter(snaps.consumer.assignment())))
        records = snaps.read_until(lambda r: len(r) >= end)
    return [json.loads(r.value)["version"] for r in records if r.key.endswith(b"/latest")]


def test_trainer_and_two_scorers_split_partitions_and_follow_new_versions(broker, yeast, tmp_path):
    labels, data = yeast
    codec = Codec(labels)
    topics = _scaleout_topics(broker, "scale")
    both = {(topics["input_topic"], 0), (topics["input_topic"], 1)}
    trainer = _role(
        broker,
        {**topics, "dead_letter_topic": topics["dead_letter_topic"] + "-trainer"},
        labels,
        "trainer",
        "trainer-" + topics["group_id"],
        checkpoint_dir=str(tmp_path / "trainer"),
    )
    scorers = [
        _role(broker, topics, labels, "scorer", topics["group_id"], checkpoint_dir=str(tmp_path))
        for _ in range(2)
    ]
    with (
        InThread(trainer),
        InThread(scorers[0]),
        TopicReader(broker.bootstrap_servers, topics["output_topic"]) as out,
    ):
        with InThread(scorers[1]):
            _wait_for(
                lambda: scorers[0].assigned and scorers[1].assigned,
                "both scorers hold partitions",
            )
            assert scorers[0].assigned | scorers[1].assigned == both
            assert not scorers[0].assigned & scorers[1].assigned

            produce(
                broker.bootstrap_servers,
                topics["input_topic"],
                instance_messages(data[:300], codec),
            )
            out.read_until(distinct_ids(300), timeout=180)
            _wait_for(
                lambda: all(s.pipeline.follower.assembler.version == 300 for s in scorers),
                "the scorers hold version 300",
            )
            produce(
                broker.bootstrap_servers,
                topics["input_topic"],
                instance_messages(data[300:600], codec, start=300),
            )
            out.read_until(distinct_ids(600), timeout=180)
            for scorer in scorers:
                value = scorer.metrics.registry.get_sample_value
                assert value("streamlabels_messages_in_total") > 0
                assert value("streamlabels_learned_total") == 0
        # The second scorer left the group: its partitions move to the first.
        produce(
            broker.bootstrap_servers,
            topics["input_topic"],
            instance_messages(data[600:], codec, start=600),
        )
        records = out.read_until(distinct_ids(len(data)), timeout=180)
        assert scorers[0].assigned == both
    by_id = predictions_by_id(records)
    assert sorted(by_id) == list(range(len(data)))
    first = [p["model_version"] for i in range(300) for p in by_id[i]]
    second = [p["model_version"] for i in range(300, 600) for p in by_id[i]]
    assert max(first) <= 300 and min(second) >= 300
    published = _published_versions(broker, topics)
    assert published == sorted(set(published)), "versions only grow on the topic"
    assert {p["model_version"] for ps in by_id.values() for p in ps} <= set(published)
    assert len({p["model_version"] for ps in by_id.values() for p in ps}) >= 3
    assert published[-1] == len(data) == trainer.pipeline.model.n_instances
    assert not list(tmp_path.glob("checkpoint-*")), "a scorer wrote a checkpoint"
    assert list((tmp_path / "trainer").glob("checkpoint-*"))


def test_a_corrupt_or_partial_snapshot_is_never_used(broker):
    topics = _scaleout_topics(broker, "corrupt")
    codec = Codec(LABELS)
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap_servers, acks="all")
    publisher = SnapshotPublisher(producer, topics["snapshot_topic"], "streamlabels", 300)
    scorer = _role(broker, topics, LABELS, "scorer", topics["group_id"])
    stream = [
        ({"u": float(i % 5), "v": 1.0}, {"a": i % 2 == 0, "b": False, "c": True}) for i in range(60)
    ]

    def publish_broken(version: int, chunks, manifest) -> None:
        before = scorer.pipeline.follower.assembler.refused
        for key, value, headers in chunks:
            producer.send(topics["snapshot_topic"], key=key, value=value, headers=headers)
        producer.send(topics["snapshot_topic"], key=b"streamlabels/latest", value=manifest)
        producer.flush()
        _wait_for(
            lambda: scorer.pipeline.follower.assembler.refused == before + 1, f"{version} refused"
        )

    create_snapshot_topic(broker.bootstrap_servers, topics["snapshot_topic"])
    try:
        publisher.publish(export(_model(50)))
        with InThread(scorer), TopicReader(broker.bootstrap_servers, topics["output_topic"]) as out:
            _wait_for(lambda: scorer.pipeline.follower.assembler.version == 50, "version 50 loaded")
            blob = dumps(export(_model(80)).to_state())
            chunks, manifest = snapshot_messages("streamlabels", 80, blob, 300)
            bad = bytearray(chunks[-1][1])
            bad[-1] ^= 1  # the sha256 check fails
            publish_broken(80, [*chunks[:-1], (chunks[-1][0], bytes(bad), chunks[-1][2])], manifest)
            blob = dumps(export(_model(90)).to_state())
            chunks, manifest = snapshot_messages("streamlabels", 90, blob, 300)
            publish_broken(90, chunks[:2] + chunks[3:], manifest)  # chunk 2 never arrives
            produce(
                broker.bootstrap_servers,
                topics["input_topic"],
                instance_messages(stream[:30], codec),
            )
            held = list(out.read_until(distinct_ids(30)))
            publisher.publish(export(_model(120)))
            _wait_for(
                lambda: scorer.pipeline.follower.assembler.version == 120, "version 120 loaded"
            )
            produce(
                broker.bootstrap_servers,
                topics["input_topic"],
                instance_messages(stream[30:], codec, start=30),
            )
            records = out.read_until(distinct_ids(60))
    finally:
        producer.close()
    assert {json.loads(r.value)["model_version"] for r in held} == {50}
    assert {json.loads(r.value)["model_version"] for r in records[len(held) :]} == {120}
    value = scorer.metrics.registry.get_sample_value
    assert value("streamlabels_snapshots_refused_total") == 2
    assert value("streamlabels_snapshots_loaded_total") == 2


def test_a_restarted_trainer_continues_the_versions_and_deletes_old_chunks(broker):
    topics = _scaleout_topics(broker, "restart")
    topic = topics["snapshot_topic"]
    create_snapshot_topic(broker.bootstrap_servers, topic)
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap_servers, acks="all")
    try:
        assert SnapshotPublisher(producer, topic, "m", 400).publish(export(_model(50)))
        # A new trainer process, restored from a checkpoint older than the newest snapshot.
        existing = read_snapshot_topic({"bootstrap_servers": broker.bootstrap_servers}, topic, "m")
        restarted = SnapshotPublisher(producer, topic, "m", 400)
        restarted.adopt(existing)
        assert restarted.version == 50
        old_chunks = existing.live_keys()
        assert len(old_chunks) > 1
        assert not restarted.publish(export(_model(30)))
        assert not restarted.publish(export(_model(50)))
        assert restarted.publish(export(_model(70)))
    finally:
        producer.close()
    with TopicReader(broker.bootstrap_servers, topic) as reader:
        records = reader.read_until(lambda r: any(x.value is None for x in r))
        end = reader.consumer.highwater(next(iter(reader.consumer.assignment())))
        records = reader.read_until(lambda r: len(r) >= end)
    manifests = [json.loads(r.value)["version"] for r in records if r.key == b"m/latest"]
    assert manifests == [50, 70]
    assert {r.key for r in records if r.value is None} == old_chunks
    latest = read_snapshot_topic({"bootstrap_servers": broker.bootstrap_servers}, topic, "m")
    assert {key.split(b"/")[1] for key in latest.live_keys()} == {b"70"}
    assert _same(latest.newest(), export(_model(70)))


def test_a_killed_scorer_hands_its_partitions_over_without_losing_instances(
    broker, yeast, tmp_path
):
    labels, data = yeast
    codec = Codec(labels)
    topics = _scaleout_topics(broker, "kill")
    trainer = _role(
        broker,
        {**topics, "dead_letter_topic": topics["dead_letter_topic"] + "-trainer"},
        labels,
        "trainer",
        "trainer-" + topics["group_id"],
    )
    survivor = _role(broker, topics, labels, "scorer", topics["group_id"])
    flags = service_flags(
        broker,
        topics,
        labels,
        role="scorer",
        scaling="standard",
        batch_size=20,
        metrics_port="off",
    )
    log = tmp_path / "scorer.log"

    def send(start: int, stop: int) -> None:
        messages = instance_messages(data[start:stop], codec, start=start)
        produce(broker.bootstrap_servers, topics["input_topic"], messages)

    send(0, 200)
    with (
        InThread(trainer),
        InThread(survivor),
        TopicReader(broker.bootstrap_servers, topics["output_topic"]) as out,
    ):
        victim = spawn_service(flags, log)
        try:
            _wait_for(lambda: "partitions assigned" in log.read_text(), "the child joined")
            _wait_for(lambda: len(survivor.assigned) == 1, "the partitions are split")
            send(200, 500)
            out.read_until(distinct_ids(300), timeout=180)
        finally:
            victim.kill()
            victim.wait()
        assert victim.returncode == -signal.SIGKILL, log.read_text()[-3000:]
        send(500, len(data))  # half of these land on the dead scorer's partition
        records = out.read_until(distinct_ids(len(data)), timeout=180)
        assert len(survivor.assigned) == 2
    assert sorted(predictions_by_id(records)) == list(range(len(data)))
