"""Faults over time: SIGKILL soaks, kills inside checkpoint writes, broker restarts, long streams.

The service promises that every message is predicted at least once and learned exactly once, and
that a crash can only cost the work since the last checkpoint. These tests break it on purpose and
compare the end state with an uninterrupted run. Each kill point is reached by construction, not by
timing: a kill inside a checkpoint write is the writer's own (the fault hook of
:mod:`streamlabels.files`), other kills wait for what the service reports. What varies is drawn
from a seeded generator; waits are bounded polls for a condition, and nothing asserts on timing.
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
from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("kafka")
pytest.register_assert_rewrite("service_fixtures")

from kafka import KafkaConsumer, TopicPartition

from service_fixtures import (
    REPO,
    distinct_ids,
    fresh_topics,
    predictions_by_id,
    service_flags,
    spawn_service,
    stop_service,
)
from streamlabels import IHOMER
from streamlabels.files import FAULT_VARIABLE
from streamlabels.state import StateError, dumps, loads, unseal
from streamlabels.streams import datasets
from streamlabels_service.broker import Broker
from streamlabels_service.checkpoint import KIND, VERSION, CheckpointStore
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

KILL_POINTS = ("in_write", "mid_replay", "joined")
PHASES = ("byte", "before-rename", "after-rename")


def _crash_soak(broker, labels, data, tmp_path, cycles: int, seed: int) -> Counter:
    """Replay ``data`` through service processes killed ``cycles`` times; check the end state.

    The kill points take turns, and each is reached by construction, with what it depends on
    drawn from a seeded generator: inside the K-th checkpoint write of the process (the writer's
    fault hook, mid-write at a drawn byte, before the rename or after it), once the process has
    learned a drawn number of messages (its telemetry says so), and once it has been given its
    partition (its log says so). The kinds of kill points reached are returned.
    """
    rng = random.Random(seed)
    topics = fresh_topics(broker, f"soak{cycles}")
    codec = Codec(labels)
    produce(broker.bootstrap_servers, topics["input_topic"], instance_messages(data, codec))
    checkpoints = tmp_path / "checkpoints"
    every, batch = 60, 40
    flags = service_flags(
        broker,
        topics,
        labels,
        scaling="standard",
        batch_size=batch,
        checkpoint_dir=checkpoints,
        checkpoint_every=every,
        checkpoint_seconds="off",
        metrics_port=0,
    )
    n = len(data)
    # Fewer bytes than any checkpoint holds: each wraps a model that has learned at least `every`
    # messages, and model states stay within 5 % of each other (the long-stream tests below).
    state_bytes = len(dumps(_uninterrupted(data[:every], labels).get_state())) * 9 // 10
    kills: Counter = Counter()
    with TopicReader(broker.bootstrap_servers, topics["output_topic"]) as out:
        for cycle in range(cycles):
            log = tmp_path / f"serve-{cycle}.log"
            latest = CheckpointStore(checkpoints).load_latest() if checkpoints.exists() else None
            left = n - (latest.offsets[(topics["input_topic"], 0)] if latest else 0)
            writes = min(3, left // (every + batch))  # checkpoint writes the process surely makes
            point = KILL_POINTS[cycle % len(KILL_POINTS)]
            if (point == "in_write" and writes == 0) or (point == "mid_replay" and left == 0):
                point = "joined"
            if point == "in_write":
                phase = PHASES[sum(k.startswith("in_write") for k in kills.elements()) % 3]
                # K >= 2 while nothing is saved yet, so that there is a previous checkpoint
                nth = rng.randint(1 if latest else min(2, writes), writes)
                fault = f"byte:{rng.randrange(state_bytes)}" if phase == "byte" else phase
                before = _newest(checkpoints)
                process = spawn_service(flags, log, **{FAULT_VARIABLE: f"{fault}@{nth}"})
                try:
                    process.wait(timeout=300)
                except subprocess.TimeoutExpired:
                    pytest.fail(f"{fault}@{nth}: the service never reached that write")
                finally:
                    process.kill()
                    process.wait()
                _check_killed_save(checkpoints, fault, before, completed=nth - 1)
                point = f"in_write {phase}"
            else:
                process = spawn_service(flags, log)
                try:
                    if point == "mid_replay":
                        learned = rng.randint(1, min(left, max(1, 2 * left // (cycles - cycle))))
                        _wait_for(
                            lambda: _metric(log, "streamlabels_learned_total") >= learned,
                            f"the service to learn {learned} messages",
                            180,
                        )
                    else:
                        _wait_for(lambda: _assignments(log) > 0, "the service to join", 180)
                finally:
                    process.kill()
                    process.wait()
            assert process.returncode == -signal.SIGKILL, log.read_text()[-3000:]
            kills[point] += 1
            if checkpoints.exists():
                _named_checkpoints_all_load(checkpoints)
        log = tmp_path / "serve-final.log"
        process = spawn_service(flags, log)
        try:
            # in its poll loop before SIGTERM, which then drains and writes the final checkpoint
            _wait_for(lambda: _assignments(log) > 0, "the final service to join", 180)
            records = out.read_until(distinct_ids(n), timeout=300)
        finally:
            assert stop_service(process) == 0, log.read_text()[-3000:]

    by_id = predictions_by_id(records)
    assert sorted(by_id) == list(range(n)), "a message was never predicted"
    for i, predictions in by_id.items():  # duplicates come from the same restored model
        assert all(p == predictions[0] for p in predictions), f"id {i} predicted differently"
        assert predictions[0]["model_version"] == i, "learned twice or lost before this id"
    final = CheckpointStore(checkpoints).load_latest()
    assert final.offsets == {(topics["input_topic"], 0): n}
    assert final.metadata["model_version"] == n
    _assert_same_model(final.model, _uninterrupted(data, labels), data)
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
    assert kills == {"in_write byte": 1, "mid_replay": 1, "joined": 1}


@pytest.mark.slow
def test_twenty_five_sigkills_at_drawn_points_then_the_model_equals_an_uninterrupted_run(
    broker, yeast, tmp_path
):
    labels, data = yeast
    kills = _crash_soak(broker, labels, data, tmp_path, cycles=25, seed=2024)
    print("crash soak:", dict(kills))
    assert {f"in_write {phase}" for phase in PHASES} | {"mid_replay", "joined"} <= set(kills)


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
    by_id = predictions_by_id(records)
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
    import os, sys
    from streamlabels_service.checkpoint import CheckpointStore
    from streamlabels import IHOMER
    from streamlabels.files import FAULT_VARIABLE
    from streamlabels.state import dumps
    from streamlabels.streams import SyntheticStream

    stream = SyntheticStream(n_instances=300, n_features=100, n_labels=8, seed=5)
    model = IHOMER(labels=stream.label_names, n_min=80)
    for x, y in stream:
        model.learn_one(x, y)
    print(len(dumps(model.get_state())), flush=True)  # each checkpoint wraps these bytes
    for line in sys.stdin:  # one writer per fault point, forked so each starts at once
        pid = os.fork()
        if pid == 0:
            os.environ[FAULT_VARIABLE] = line.strip()
            store = CheckpointStore(sys.argv[1], keep=2)
            latest = store.load_latest()
            first = latest.metadata["seq"] + 1 if latest else 1
            for seq in range(first, first + 10):  # the fault point ends it in one of them
                store.save(model, {("in", 0): seq}, {"seq": seq})
            os._exit(3)
        print(pid, flush=True)
        print(os.waitpid(pid, 0)[1], flush=True)
    """
)


def _newest(folder: Path) -> int:
    """The number of the newest named checkpoint in ``folder``; 0 when there is none."""
    names = sorted(p.name for p in folder.glob("checkpoint-*.state"))
    return int(names[-1].removeprefix("checkpoint-").removesuffix(".state")) if names else 0


def _check_killed_save(folder: Path, fault: str, before: int, completed: int) -> None:
    """A process was killed at ``fault`` inside the save after its ``completed`` complete ones,
    the newest checkpoint then being number ``before``. Killed before the rename, it leaves the
    temporary file (torn mid-write, or whole) and the previous checkpoint in use; after it, the
    new checkpoint. Either way the newest named checkpoint is whole and is the one restored."""
    # the temporary files, read before a store clears them (as the lines below do)
    leftovers = [p.read_bytes() for p in folder.glob(".checkpoint-*.tmp")]
    renamed = fault == "after-rename"
    assert _newest(folder) == before + completed + renamed, f"{fault}: wrong newest checkpoint"
    _named_checkpoints_all_load(folder)
    assert not list(folder.glob(".checkpoint-*.tmp")), "a store did not clear the leftovers"
    store = CheckpointStore(folder)
    latest = store.load_latest()
    assert (latest.path if latest else None) == (store.paths() or [None])[-1]
    if renamed:
        assert leftovers == [], "a temporary file outlived its rename"
        return
    assert len(leftovers) == 1, f"{fault}: {len(leftovers)} temporary files"
    if fault.startswith("byte:"):
        assert len(leftovers[0]) == int(fault.removeprefix("byte:"))
        with pytest.raises(StateError):
            loads(leftovers[0])
    else:  # whole and valid, but never renamed: not in use
        unseal(leftovers[0], KIND, (VERSION,))


def _kill_writers(folder: Path, kills: int, seed: int) -> Counter:
    """Kill ``kills`` checkpoint writers inside a save each, at points drawn from a seeded
    generator: the save (after 0 to 2 complete ones) and, taking turns, the phase (mid-write at
    a drawn byte, complete before the rename, after the rename). The phases reached."""
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
    landed: Counter = Counter()
    try:
        state_bytes = int(writers.stdout.readline())
        for i in range(kills):
            phase = PHASES[i % len(PHASES)]
            fault = f"byte:{rng.randrange(state_bytes)}" if phase == "byte" else phase
            completed = rng.randint(0, 2)
            before = _newest(folder)
            writers.stdin.write(f"{fault}@{completed + 1}\n")
            writers.stdin.flush()
            int(writers.stdout.readline())  # the writer's pid
            status = int(writers.stdout.readline())
            assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, (
                f"{fault}@{completed + 1}: the writer was not killed inside its save"
            )
            _check_killed_save(folder, fault, before, completed)
            latest = CheckpointStore(folder).load_latest()
            seq = latest.metadata["seq"] if latest else 0
            assert seq == _newest(folder), "a save was lost or made twice"
            assert latest is None or latest.offsets == {("in", 0): seq}
            landed[phase] += 1
    finally:
        writers.kill()
        writers.wait()
        writers.stdin.close()
        writers.stdout.close()
    return landed


def test_sigkill_inside_checkpoint_writes_leaves_the_previous_checkpoint_in_use(tmp_path):
    landed = _kill_writers(tmp_path / "checkpoints", kills=9, seed=17)
    assert landed == {phase: 3 for phase in PHASES}


@pytest.mark.slow
def test_two_hundred_kills_inside_checkpoint_writes(tmp_path):
    landed = _kill_writers(tmp_path / "checkpoints", kills=200, seed=99)
    print("checkpoint writers killed inside a save:", dict(landed))
    assert landed == {"byte": 67, "before-rename": 67, "after-rename": 66}


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
    by_id = predictions_by_id(records)
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
