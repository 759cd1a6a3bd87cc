"""The service against a real Kafka-protocol broker (Tansu, started once per test session).

Each test uses its own topics and consumer group. Waits are bounded polls for a condition (a number
of records on a topic, a log line), never fixed sleeps or timing assertions.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import urllib.request

import numpy as np
import pytest

pytest.importorskip("kafka")
pytest.register_assert_rewrite("service_fixtures")

from kafka import KafkaConsumer, TopicPartition

from service_fixtures import InThread as _InThread
from service_fixtures import distinct_ids as _distinct_ids
from service_fixtures import fresh_topics as _topics
from service_fixtures import service_config as _config
from service_fixtures import service_flags as _flags
from service_fixtures import spawn_service as _spawn
from service_fixtures import stop_service as _stop
from streamlabels import IHOMER
from streamlabels.evaluate import MultiLabelMetrics, prequential
from streamlabels.streams import datasets
from streamlabels_service.checkpoint import CheckpointStore
from streamlabels_service.codec import Codec
from streamlabels_service.consumer import Service
from streamlabels_service.topics import TopicReader, instance_messages, produce

pytest_plugins = ["service_fixtures"]


@pytest.fixture(scope="module")
def yeast(data_dir):
    stream = datasets.load("yeast")
    return list(stream.label_names), list(stream)


def _metrics_from_outputs(records, data, labels) -> dict:
    predicted = {json.loads(r.value)["id"]: json.loads(r.value)["labels"] for r in records}
    scores = MultiLabelMetrics(len(labels))
    for i, (_, y) in enumerate(data):
        truth = np.array([y[label] for label in labels])
        scores.update(truth, np.array([label in predicted[i] for label in labels]))
    return scores.get()


def test_yeast_replay_through_kafka_matches_prequential(broker, yeast, client):
    labels, data = yeast
    topics = _topics(broker, "e2e")
    codec = Codec(labels)
    produce(broker.bootstrap_servers, topics["input_topic"], instance_messages(data, codec))
    service = Service(
        _config(broker, topics, labels, scaling="standard", batch_size=200, client=client)
    )
    with _InThread(service), TopicReader(broker.bootstrap_servers, topics["output_topic"]) as out:
        records = out.read_until(_distinct_ids(len(data)), timeout=180)
    assert len(records) == len(data)
    messages = [json.loads(r.value) for r in records]
    assert [m["id"] for m in messages] == list(range(len(data)))
    assert [r.key for r in records] == [str(i).encode() for i in range(len(data))]
    assert [m["model_version"] for m in messages] == list(range(len(data)))

    reference = prequential(data, IHOMER(labels=labels, scaling="standard"), labels,
                            calibration=False).metrics
    measured = _metrics_from_outputs(records, data, labels)
    assert abs(measured["micro_f1"] - reference["micro_f1"]) <= 1e-12
    assert measured == pytest.approx(reference, abs=1e-12)
    value = service.metrics.registry.get_sample_value
    assert value("streamlabels_micro_f1") == pytest.approx(reference["micro_f1"], abs=1e-12)
    assert value("streamlabels_messages_in_total") == len(data)
    assert value("streamlabels_learned_total") == len(data)
    assert (
        value("streamlabels_consumer_lag", {"topic": topics["input_topic"], "partition": "0"}) == 0
    )


def test_invalid_messages_go_to_the_dead_letter_topic_and_good_ones_are_served(broker, client):
    labels = ["a", "b"]
    topics = _topics(broker, "dlq")
    codec = Codec(labels)
    oversized = codec.encode_instance("big", {f"f{i}": 1.0 for i in range(400)}, ["a"])
    huge = b'{"id": "m8", "pad": "' + b"z" * 100_000 + b'"}'  # beyond the producer's limit
    messages = [
        (b"g0", codec.encode_instance("g0", {"f": 1.0}, ["a"]), None),
        (b"m1", b'{"id": "m1", "x": {"f": 1.0', "undecodable"),
        (b"m2", b'{"id": "m2", "x": {"f": "high"}}', "bad_features"),
        (b"m3", b'{"id": "m3", "x": {"f": NaN}, "y": ["a"]}', "non_finite"),
        (b"m4", b'{"id": "m4", "x": {"f": -Infinity}}', "non_finite"),
        (b"m5", b'{"id": "m5", "x": {"f": 1.0}, "y": ["a", "zebra"]}', "unknown_label"),
        (b"m6", oversized, "too_large"),
        (b"m7", b'{"id": [1], "x": {}}', "bad_id"),
        (b"m8", huge, "too_large"),
        (b"g1", codec.encode_instance("g1", {"f": 2.0}, ["b"]), None),
        (b"g2", codec.encode_instance("g2", {"f": 3.0}, None), None),
    ]
    produce(
        broker.bootstrap_servers, topics["input_topic"], [(k.decode(), v) for k, v, _ in messages]
    )
    config = _config(
        broker, topics, labels, max_message_bytes=2000, snapshot_chunk_bytes=1000, client=client
    )
    limit = config.producer_max_bytes
    assert len(oversized) > 2000 and len(oversized) < limit < len(huge)
    service = Service(config)
    with _InThread(service):
        with TopicReader(broker.bootstrap_servers, topics["output_topic"]) as out:
            predictions = out.read_until(lambda r: len(r) >= 3, timeout=60)
        with TopicReader(broker.bootstrap_servers, topics["dead_letter_topic"]) as dlq:
            dead = dlq.read_until(lambda r: len(r) >= 8, timeout=60)

    served = [json.loads(r.value) for r in predictions]
    assert [p["id"] for p in served] == ["g0", "g1", "g2"]
    assert [p["model_version"] for p in served] == [0, 1, 2]
    assert len(dead) == 8
    for record, (offset, (key, raw, reason)) in zip(
        dead, [(i, m) for i, m in enumerate(messages) if m[2] is not None]
    ):
        headers = {k: v.decode() for k, v in record.headers}
        assert headers["streamlabels.reason"] == reason
        assert headers["streamlabels.detail"]
        assert headers["streamlabels.topic"] == topics["input_topic"]
        assert (headers["streamlabels.partition"], headers["streamlabels.offset"]) == (
            "0",
            str(offset),
        )
        assert record.key == key
        if raw is huge:  # as much as the producer's record limit holds, and the whole size
            assert raw.startswith(record.value) and limit - 2048 < len(record.value) < limit
            assert headers["streamlabels.original_bytes"] == str(len(raw))
        else:  # the original bytes, the oversized message too
            assert record.value == raw
            assert "streamlabels.original_bytes" not in headers
    value = service.metrics.registry.get_sample_value
    assert value("streamlabels_dead_letters_total", {"reason": "non_finite"}) == 2
    assert value("streamlabels_dead_letters_total", {"reason": "too_large"}) == 2
    assert value("streamlabels_learned_total") == 2


# -- the service as a separate process ---------------------------------------------------------


def test_sigkill_mid_replay_then_restart_learns_every_message_exactly_once(broker, yeast, tmp_path):
    labels, data = yeast
    first, rest = data[:1200], data[1200:]
    topics = _topics(broker, "crash")
    codec = Codec(labels)
    checkpoints = tmp_path / "checkpoints"
    flags = _flags(
        broker,
        topics,
        labels,
        scaling="standard",
        batch_size=100,
        checkpoint_dir=checkpoints,
        checkpoint_every=500,
        checkpoint_seconds="off",
        metrics_port="off",
    )
    log = tmp_path / "serve.log"
    produce(broker.bootstrap_servers, topics["input_topic"], instance_messages(first, codec))
    process = _spawn(flags, log)
    try:
        with TopicReader(broker.bootstrap_servers, topics["output_topic"]) as out:
            out.read_until(_distinct_ids(len(first)), timeout=180)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL
    restored = CheckpointStore(checkpoints).load_latest()
    resumed_at = restored.model.n_instances
    assert 0 < resumed_at < len(first), "the kill must come after the newest checkpoint"
    assert restored.offsets == {(topics["input_topic"], 0): resumed_at}

    produce(
        broker.bootstrap_servers,
        topics["input_topic"],
        instance_messages(rest, codec, start=len(first)),
    )
    process = _spawn(flags, log)
    try:
        with TopicReader(broker.bootstrap_servers, topics["output_topic"]) as out:
            records = out.read_until(_distinct_ids(len(data)), timeout=180)
    finally:
        assert _stop(process) == 0, log.read_text()[-3000:]

    by_id: dict[int, list[bytes]] = {}
    for record in records:
        by_id.setdefault(json.loads(record.value)["id"], []).append(record.value)
    assert sorted(by_id) == list(range(len(data)))
    twice = {i for i, values in by_id.items() if len(values) > 1}
    assert twice == set(range(resumed_at, len(first)))
    assert all(len(set(by_id[i])) == 1 for i in twice), "a re-prediction differs"

    final = CheckpointStore(checkpoints).load_latest()
    assert final.offsets == {(topics["input_topic"], 0): len(data)}
    assert final.model.n_instances == len(data)
    uninterrupted = IHOMER(labels=labels, scaling="standard")
    reference = prequential(data, uninterrupted, labels).metrics
    probe = [x for x, _ in data[::7]]
    assert [final.model.predict_proba_one(x) for x in probe] == [
        uninterrupted.predict_proba_one(x) for x in probe
    ]
    measured = _metrics_from_outputs(records, data, labels)
    assert abs(measured["micro_f1"] - reference["micro_f1"]) <= 1e-12
    assert "restored checkpoint" in log.read_text()


def test_sigterm_drains_commits_and_checkpoints_without_leaking_the_password(broker, tmp_path):
    labels = ["a", "b", "c"]
    secret = "pw-" + os.urandom(8).hex()
    topics = _topics(broker, "term")
    codec = Codec(labels)
    stream = [
        ({"f": float(i), "g": 1.0}, {"a": i % 2 == 0, "b": i % 3 == 0, "c": False})
        for i in range(20)
    ]
    produce(broker.bootstrap_servers, topics["input_topic"], instance_messages(stream, codec))
    checkpoints = tmp_path / "checkpoints"
    flags = _flags(
        broker,
        topics,
        labels,
        checkpoint_dir=checkpoints,
        metrics_port=0,
        log_level="DEBUG",
        sasl_plain_username="svc",
    )
    log = tmp_path / "serve.log"
    process = _spawn(flags, log, STREAMLABELS_SASL_PLAIN_PASSWORD=secret)
    try:
        with TopicReader(broker.bootstrap_servers, topics["output_topic"]) as out:
            out.read_until(lambda r: len(r) >= len(stream), timeout=120)
        url = next(
            json.loads(line)["url"]
            for line in log.read_text().splitlines()
            if line.startswith("{") and json.loads(line)["message"] == "telemetry listening"
        )
        metrics_text = urllib.request.urlopen(url).read().decode()
        health = json.loads(urllib.request.urlopen(url.replace("/metrics", "/healthz")).read())
    finally:
        returncode = _stop(process)
    assert returncode == 0
    assert health == {"status": "ok"}
    assert "streamlabels_learned_total 20.0" in metrics_text
    text = log.read_text()
    assert secret not in text and secret not in metrics_text
    entries = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert any(
        e["message"] == "starting" and e["config"]["sasl_plain_password"] == "***" for e in entries
    )
    assert entries[-1]["message"] == "stopped" and entries[-1]["clean"] is True

    final = CheckpointStore(checkpoints).load_latest()
    assert final.model.n_instances == len(stream)
    assert final.offsets == {(topics["input_topic"], 0): len(stream)}
    check = KafkaConsumer(
        bootstrap_servers=broker.bootstrap_servers,
        group_id=topics["group_id"],
        enable_auto_commit=False,
    )
    try:
        assert check.committed(TopicPartition(topics["input_topic"], 0)) == len(stream)
    finally:
        check.close(autocommit=False)


def test_the_demo_reports_its_steady_rate_apart_from_start_up(data_dir, capsys):
    """In strict scoring it scores as ``streamlabels replay yeast --n 1500``, and says so."""
    from streamlabels.cli.models import make_model
    from streamlabels_service.demo import run_demo

    result = run_demo("yeast", n=1500, scoring="strict")  # more than one batch of 500
    assert result["messages_in"] == result["predictions_out"] == 1500
    assert result["model_version"] == 1500
    assert result["startup_seconds"] > 0
    assert result["steady_messages_per_s"] > 0
    stream = datasets.load("yeast")
    model = make_model("ihomer", stream.feature_names, stream.label_names)
    replayed = prequential(stream, model, stream.label_names, n=1500).metrics["micro_f1"]
    assert result["micro_f1"] == pytest.approx(replayed, abs=1e-12)
    printed = capsys.readouterr().out
    assert "scoring: strict" in printed and "`streamlabels replay yeast --n 1500`" in printed


def test_kafka_python_reads_with_the_compiled_crc32c_and_says_so_when_it_cannot(
    broker, caplog, monkeypatch
):
    from kafka.record import util

    from streamlabels_service.clients import crc32c_is_compiled, open_clients

    assert crc32c_is_compiled(), "the crc32c package is in the service extras"
    monkeypatch.setattr(util, "crc32c_c", None)
    config = _config(broker, _topics(broker, "crc"), ["a"], client="kafka-python")
    with caplog.at_level(logging.WARNING, logger="streamlabels_service.clients"):
        consumer, producer = open_clients(config)
    consumer.close()
    producer.close()
    assert any("crc32c" in record.getMessage() for record in caplog.records)
