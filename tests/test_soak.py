"""Faults over time: SIGKILL soaks, kills inside checkpoint writes, broker restarts, long streams.

The service promises that every message is predicted at least once and learned exactly once, and
that a crash can only cost the work since the last checkpoint. These tests break it on purpose, at
random points, and compare the end state with an uninterrupted run. Kill points are drawn from a
seeded generator; waits are bounded polls for a condition, and nothing asserts on timing.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("kafka")
pytest.register_assert_rewrite("service_fixtures")

from kafka import KafkaConsumer, TopicPartition

from service_fixtures import (
    REPO,
    distinct_ids,
    fresh_topics,
    service_flags,
    spawn_service,
    stop_service,
)
from streamlabels import IHOMER
from streamlabels.state import dumps
from streamlabels.streams import datasets
from streamlabels_service.broker import Broker
from streamlabels_service.checkpoint import CheckpointStore
from streamlabels_service.codec import Codec
from streamlabels_service.topics import TopicReader, create_topics, instance_messages, produce

pytest_plugins = ["service_fixtures"]


@pytest.fixture(scope="module")
def yeast(data_dir):
    stream = datasets.load("yeast")
    return list(stream.label_names), list(stream)


def _uninterrupted(data, labels) -> IHOMER:
    model = IHOMER(labels=labels, scaling="standard")
    for x, y in data:
        model.predict_one(x)
        model.learn_one(x, y)
    return model


def _assert_same_model(model: IHOMER, reference: IHOMER, data) -> None:
    probe = [x for x, _ in data[::11]]
    assert model.n_instances == reference.n_instances
    assert [model.predict_proba_one(x) for x in probe] == [
        reference.predict_proba_one(x) for x in probe
    ]


def _named_checkpoints_all_load(folder: Path) -> None:
    """No torn or partial file ever sits under a checkpoint's real name."""
    for path in CheckpointStore(folder).paths():
        CheckpointStore.load(path)


# -- crash soak -------------------------------------------------------------------------------


def _crash_soak(broker, labels, data, tmp_path, cycles: int, seed: int) -> dict:
    """Replay ``data`` through service processes killed ``cycles`` times; check the end state."""
    rng = random.Random(seed)
    topics = fresh_topics(broker, f"soak{cycles}")
    codec = Codec(labels)
    produce(broker.bootstrap_servers, topics["input_topic"], instance_messages(data, codec))
    checkpoints = tmp_path / "checkpoints"
    flags = service_flags(
        broker,
        topics,
        labels,
        scaling="standard",
        batch_size=40,
        checkpoint_dir=checkpoints,
        checkpoint_every=60,
        checkpoint_seconds="off",
        metrics_port="off",
    )
    log = tmp_path / "serve.log"
    n = len(data)
    kills = {"early": 0, "mid_replay": 0, "tmp_file_left": 0}
    with TopicReader(broker.bootstrap_servers, topics["output_topic"]) as out:
        for cycle in range(cycles):
            seen = len({r.key for r in out.records})
            process = spawn_service(flags, log)
            try:
                if rng.random() < 0.25 or seen >= n:  # during start-up, restore or group join
                    kills["early"] += 1
                    time.sleep(rng.uniform(0.0, 2.0))
                else:  # after a random amount of progress, plus a random sliver
                    step = max(1, (n - seen) // max(1, cycles - cycle))
                    target = min(n, seen + rng.randint(1, 2 * step))
                    out.read_until(distinct_ids(target), timeout=180)
                    time.sleep(rng.uniform(0.0, 0.2))
                    kills["mid_replay"] += 1
            finally:
                process.kill()
                process.wait()
            assert process.returncode == -signal.SIGKILL, log.read_text()[-3000:]
            if checkpoints.exists():
                kills["tmp_file_left"] += any(checkpoints.glob(".checkpoint-*.tmp"))
                _named_checkpoints_all_load(checkpoints)
        joined = _assignments(log)
        process = spawn_service(flags, log)
        try:
            # in its poll loop before SIGTERM, which then drains and writes the final checkpoint
            _wait_for(lambda: _assignments(log) > joined, "the final service to join", 180)
            records = out.read_until(distinct_ids(n), timeout=300)
        finally:
            assert stop_service(process) == 0, log.read_text()[-3000:]

    by_id: dict[int, list[dict]] = {}
    for record in records:
        message = json.loads(record.value)
        by_id.setdefault(message["id"], []).append(message)
    assert sorted(by_id) == list(range(n)), "a message was never predicted"
    for i, predictions in by_id.items():  # duplicates come from the same restored model
        assert all(p == predictions[0] for p in predictions), f"id {i} predicted differently"
        assert predictions[0]["model_version"] == i, "learned twice or lost before this id"
    final = CheckpointStore(checkpoints).load_latest()
    assert final.offsets == {(topics["input_topic"], 0): n}
    assert final.metadata["model_version"] == n
    _assert_same_model(final.model, _uninterrupted(data, labels), data)
    kills["duplicates"] = sum(len(p) - 1 for p in by_id.values())
    return kills


def _assignments(log: Path) -> int:
    """How many times a service of this log was given its partition."""
    text = log.read_text() if log.exists() else ""
    return text.count('"resuming partition"') + text.count("reading it from the beginning")


def test_three_sigkills_during_a_replay_lose_nothing_and_learn_nothing_twice(
    broker, yeast, tmp_path
):
    labels, data = yeast
    kills = _crash_soak(broker, labels, data[:600], tmp_path, cycles=3, seed=8)
    assert kills["early"] + kills["mid_replay"] == 3


@pytest.mark.slow
def test_twenty_five_sigkills_at_random_points_then_the_model_equals_an_uninterrupted_run(
    broker, yeast, tmp_path
):
    labels, data = yeast
    kills = _crash_soak(broker, labels, data, tmp_path, cycles=25, seed=2024)
    print("crash soak:", kills)
    assert kills["early"] + kills["mid_replay"] == 25


# -- a kill while sends are in flight ---------------------------------------------------------


def _metric(log: Path, name: str) -> float:
    """A metric of the service child that wrote ``log`` (0 before its telemetry is up)."""
    text = log.read_text() if log.exists() else ""
    urls = [
        json.loads(line)["url"]
        for line in text.splitlines()
        if line.startswith("{") and json.loads(line)["message"] == "telemetry listening"
    ]
    if not urls:
        return 0.0
    with urllib.request.urlopen(urls[-1], timeout=5) as reply:
        lines = reply.read().decode().splitlines()
    return sum(float(line.split()[-1]) for line in lines if line.startswith(name + " "))


def test_sigkill_with_sends_in_flight_loses_nothing_and_learns_nothing_twice(
    broker, yeast, tmp_path, client
):
    """The producer holds its sends for 30 s (linger), so after the last checkpoint the model
    learns 100 messages whose predictions are still in flight when the service is killed."""
    labels, data = yeast
    data = data[:500]
    topics = fresh_topics(broker, "inflight")
    codec = Codec(labels)
    produce(broker.bootstrap_servers, topics["input_topic"], instance_messages(data, codec))
    checkpoints = tmp_path / "checkpoints"
    settings = {
        "client": client,
        "scaling": "standard",
        "batch_size": 50,
        "checkpoint_dir": checkpoints,
        "checkpoint_every": 200,  # each checkpoint first waits for every send: at 200 and 400
        "checkpoint_seconds": "off",
    }
    log = tmp_path / "serve.log"
    held = service_flags(
        broker,
        topics,
        labels,
        linger_ms=30_000,
        producer_batch_bytes=4_000_000,
        metrics_port=0,
        **settings,
    )
    process = spawn_service(held, log)
    try:
        _wait_for(lambda: _metric(log, "streamlabels_learned_total") == len(data), "all learned")
        with TopicReader(broker.bootstrap_servers, topics["output_topic"]) as out:
            delivered = out.read_until(distinct_ids(400), timeout=60)
            committed = _committed(broker, topics)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL, log.read_text()[-3000:]
    assert len({r.key for r in delivered}) == 400, "the last 100 predictions were not in flight"
    assert committed == 400, "an offset was committed before its prediction was acknowledged"
    assert CheckpointStore(checkpoints).load_latest().offsets == {(topics["input_topic"], 0): 400}

    process = spawn_service(service_flags(broker, topics, labels, **settings), log)
    try:
        with TopicReader(broker.bootstrap_servers, topics["output_topic"]) as out:
            records = out.read_until(distinct_ids(len(data)), timeout=180)
    finally:
        assert stop_service(process) == 0, log.read_text()[-3000:]
    by_id: dict[int, list[dict]] = {}
    for record in records:
        message = json.loads(record.value)
        by_id.setdefault(message["id"], []).append(message)
    assert sorted(by_id) == list(range(len(data))), "a message was never predicted"
    assert all(len(by_id[i]) == 1 for i in by_id), "only the lost predictions come again"
    assert all(p["model_version"] == i for i, ps in by_id.items() for p in ps)
    final = CheckpointStore(checkpoints).load_latest()
    assert final.offsets == {(topics["input_topic"], 0): len(data)}
    _assert_same_model(final.model, _uninterrupted(data, labels), data)


def _committed(broker, topics) -> int | None:
    check = KafkaConsumer(
        bootstrap_servers=broker.bootstrap_servers,
        group_id=topics["group_id"],
        enable_auto_commit=False,
    )
    try:
        return check.committed(TopicPartition(topics["input_topic"], 0))
    finally:
        check.close(autocommit=False)


# -- kills inside a checkpoint write ----------------------------------------------------------

_WRITER = textwrap.dedent(
    """
    import os, sys, time
    import streamlabels_service.checkpoint as checkpoint
    from streamlabels import IHOMER
    from streamlabels.streams import SyntheticStream

    fsync = os.fsync
    def slow_fsync(fd):  # widen the window between the temporary file and the rename
        time.sleep(0.01)
        fsync(fd)
    checkpoint.os.fsync = slow_fsync

    stream = SyntheticStream(n_instances=300, n_features=100, n_labels=8, seed=5)
    model = IHOMER(labels=stream.label_names, n_min=80)
    for x, y in stream:
        model.learn_one(x, y)
    for _ in sys.stdin:  # one writer per line, forked so each starts at once
        pid = os.fork()
        if pid == 0:
            store = checkpoint.CheckpointStore(sys.argv[1], keep=2)
            latest = store.load_latest()
            seq = latest.metadata["seq"] if latest else 0
            while True:
                seq += 1
                store.save(model, {("in", 0): seq}, {"seq": seq})
        print(pid, flush=True)
        os.waitpid(pid, 0)
        print("reaped", flush=True)
    """
)


def _kill_writers(folder: Path, kills: int, seed: int) -> int:
    """SIGKILL ``kills`` checkpoint writers at random moments; check the folder after each."""
    rng = random.Random(seed)
    folder.mkdir()
    writers = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(folder)],
        cwd=REPO,
        env={"PYTHONPATH": str(REPO)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    torn = previous = 0
    try:
        for _ in range(kills):
            writers.stdin.write("go\n")
            writers.stdin.flush()
            pid = int(writers.stdout.readline())
            time.sleep(rng.uniform(0.005, 0.1))
            os.kill(pid, signal.SIGKILL)
            assert writers.stdout.readline().strip() == "reaped"
            torn += any(folder.glob(".checkpoint-*.tmp"))
            _named_checkpoints_all_load(folder)
            store = CheckpointStore(folder, keep=2)  # clears the leftover temporary file
            assert not list(folder.glob(".checkpoint-*.tmp"))
            latest = store.load_latest()
            if latest is None:  # killed before its first checkpoint was complete
                assert previous == 0
                continue
            assert latest.path == store.paths()[-1], "the newest named checkpoint was refused"
            assert latest.metadata["seq"] >= previous
            assert latest.offsets == {("in", 0): latest.metadata["seq"]}
            previous = latest.metadata["seq"]
    finally:
        writers.kill()
        writers.wait()
        writers.stdin.close()
        writers.stdout.close()
    assert previous > 0
    return torn


def test_sigkill_inside_checkpoint_writes_leaves_the_previous_checkpoint_in_use(tmp_path):
    torn = _kill_writers(tmp_path / "checkpoints", kills=10, seed=17)
    assert torn >= 3, "too few kills landed inside a write to test it"


@pytest.mark.slow
def test_two_hundred_kills_inside_checkpoint_writes(tmp_path):
    torn = _kill_writers(tmp_path / "checkpoints", kills=200, seed=99)
    print(f"checkpoint writers killed: 200, inside a write: {torn}")
    assert torn >= 60


# -- broker faults ----------------------------------------------------------------------------


def test_the_service_rides_out_a_broker_restart_and_keeps_its_checkpointed_model(yeast, tmp_path):
    """The test broker keeps topics in memory, so the new one starts empty; the producer side
    replays the retained log (as a persistent Kafka would still hold it), then sends new data.

    The new broker has also forgotten the idempotent producer's sequence numbers, so the service's
    first flush fails: it commits nothing, rolls back to its checkpoint and reconnects by itself.
    The checkpointed model survives, and every new message is predicted and learned once."""
    labels, data = yeast
    first, second = data[:400], data[400:800]
    codec = Codec(labels)
    old = Broker().start()
    port = old.port
    topics = {
        "input_topic": "in-restart",
        "output_topic": "out-restart",
        "dead_letter_topic": "dlq-restart",
        "group_id": "group-restart",
    }
    checkpoints = tmp_path / "checkpoints"
    log = tmp_path / "serve.log"
    flags = service_flags(
        old,
        topics,
        labels,
        scaling="standard",
        batch_size=50,
        checkpoint_dir=checkpoints,
        checkpoint_every=1,  # after every batch: the first part always ends on a checkpoint
        checkpoint_seconds="off",
        metrics_port="off",
    )
    new = None
    process = None
    try:
        create_topics(old.bootstrap_servers, [v for k, v in topics.items() if k != "group_id"])
        produce(old.bootstrap_servers, topics["input_topic"], instance_messages(first, codec))
        process = spawn_service(flags, log)
        with TopicReader(old.bootstrap_servers, topics["output_topic"]) as out:
            out.read_until(distinct_ids(len(first)), timeout=180)
        _wait_for(lambda: _learned(checkpoints) == len(first), "checkpoint of the first part")
        old.stop()
        time.sleep(3.0)  # the outage: the service keeps polling a broker that is gone
        assert process.poll() is None, log.read_text()[-3000:]

        new = Broker(port=port).start()
        restarted = time.monotonic()
        create_topics(new.bootstrap_servers, [v for k, v in topics.items() if k != "group_id"])
        produce(new.bootstrap_servers, topics["input_topic"], instance_messages(first, codec))
        produce(
            new.bootstrap_servers,
            topics["input_topic"],
            instance_messages(second, codec, start=len(first)),
        )
        with TopicReader(new.bootstrap_servers, topics["output_topic"]) as out:
            records = out.read_until(distinct_ids(len(second)), timeout=300)
            reconnected = time.monotonic() - restarted
        assert process.poll() is None, log.read_text()[-3000:]
        assert stop_service(process) == 0, log.read_text()[-3000:]
    finally:
        if process is not None and process.poll() is None:
            process.kill()
        old.stop()
        if new is not None:
            new.stop()
    print(f"broker restart: all new predictions {reconnected:.1f} s after the new broker")
    by_id: dict[int, list[dict]] = {}
    for record in records:
        message = json.loads(record.value)
        by_id.setdefault(message["id"], []).append(message)
    assert sorted(by_id) == list(range(len(first), len(first) + len(second)))
    assert all(m["model_version"] == i for i, ms in by_id.items() for m in ms)
    final = CheckpointStore(checkpoints).load_latest()
    assert final.offsets == {(topics["input_topic"], 0): len(first) + len(second)}
    _assert_same_model(final.model, _uninterrupted(first + second, labels), data)


def _learned(folder: Path) -> int:
    latest = CheckpointStore(folder).load_latest() if folder.exists() else None
    return latest.model.n_instances if latest else 0


def _wait_for(condition, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for: {what}"
        time.sleep(0.1)


# -- long streams -----------------------------------------------------------------------------


def _sizes_over_passes(data, labels, passes: int) -> list[tuple[dict, int]]:
    """The model's size report and its state blob size after each pass over ``data``."""
    model = IHOMER(labels=labels, scaling="standard")
    sizes = []
    for _ in range(passes):
        for x, y in data:
            model.predict_one(x)
            model.learn_one(x, y)
        sizes.append((model.model_size(), len(dumps(model.get_state()))))
    return sizes


def _assert_flat(sizes: list[tuple[dict, int]], n_labels: int) -> None:
    """After the first pass nothing grows with the stream: sizes are capped by the label and
    feature counts, and the state blob stays within 5 %."""
    settled = sizes[1:]
    blobs = [blob for _, blob in settled]
    assert max(blobs) <= 1.05 * min(blobs), blobs
    assert len({report["features"] for report, _ in settled}) == 1, sizes
    for report, _ in sizes:
        assert report["groups"] <= n_labels and report["learners"] <= 1 + n_labels
        assert report["tree_nodes"] <= 2 * n_labels
        assert report["tree_bytes"] <= report["tree_nodes"] * (n_labels + 1) ** 2 * 8


def test_model_size_stays_flat_over_three_passes_of_yeast(yeast):
    labels, data = yeast
    _assert_flat(_sizes_over_passes(data, labels, 3), len(labels))


@pytest.mark.slow
def test_model_size_stays_flat_over_ten_passes_of_yeast(yeast):
    labels, data = yeast
    sizes = _sizes_over_passes(data, labels, 10)
    print("model size per pass:", [(r, b) for r, b in sizes])
    _assert_flat(sizes, len(labels))
