"""The service's parts that need no broker: settings, message validation, checkpoints, telemetry."""

from __future__ import annotations

import io
import itertools
import json
import logging
import threading
import urllib.error
import urllib.request
from pathlib import Path

import msgpack
import pytest

from streamlabels import IHOMER
from streamlabels.kernels.experts import EMPTY
from streamlabels.state import dumps, loads
from streamlabels.streams import ArffStream, SyntheticStream, datasets
from streamlabels_service.checkpoint import CheckpointStore
from streamlabels_service.codec import Codec, InvalidMessage
from streamlabels_service.config import ConfigError, ServiceConfig
from streamlabels_service.consumer import Service
from streamlabels_service.learning import choose_scaling
from streamlabels_service.roles import Single, Trainer
from streamlabels_service.telemetry import (
    JsonFormatter,
    Metrics,
    TelemetryServer,
    configure_logging,
)

LABELS = ["a", "b", "c"]


# -- settings ---------------------------------------------------------------------------------


def test_flags_win_over_environment_and_environment_over_defaults():
    environ = {
        "STREAMLABELS_INPUT_TOPIC": "from-env",
        "STREAMLABELS_BATCH_SIZE": "64",
        "STREAMLABELS_LABELS": "x,y",
    }
    config = ServiceConfig.from_sources({"input_topic": "from-flag"}, environ)
    assert config.input_topic == "from-flag"
    assert config.batch_size == 64
    assert config.labels == ["x", "y"]
    assert config.output_topic == "streamlabels-predictions"
    assert config.checkpoint_every == 10_000


def test_settings_are_checked():
    with pytest.raises(ConfigError, match="batch_size"):
        ServiceConfig.from_sources({"batch_size": "0"}, {})
    with pytest.raises(ConfigError, match="scaling"):
        ServiceConfig.from_sources({"scaling": "minmax"}, {})
    with pytest.raises(ConfigError, match="n_min"):
        ServiceConfig.from_sources({"n_min": "many"}, {})
    with pytest.raises(ConfigError, match="not both"):
        ServiceConfig.from_sources({"labels": "a", "labels_from": "yeast"}, {})
    with pytest.raises(ConfigError, match="no label vocabulary"):
        ServiceConfig.from_sources({}, {}).label_vocabulary()
    assert ServiceConfig.from_sources({"checkpoint_every": "off"}, {}).checkpoint_every is None


def test_labels_from_an_arff_header(data_dir):
    path = data_dir / "yeast.arff.gz"
    config = ServiceConfig.from_sources({"labels_from": f"{path}:-14"}, {})
    assert config.label_vocabulary() == ArffStream(path, labels=-14).label_names
    assert sorted(config.label_vocabulary()) == sorted(f"Class{i}" for i in range(1, 15))
    by_name = ServiceConfig.from_sources({"labels_from": "yeast"}, {}).label_vocabulary()
    assert by_name == list(datasets.info("yeast").label_names)


def test_password_comes_from_environment_only_and_is_never_shown():
    secret = "hunter2-very-secret"
    config = ServiceConfig.from_sources(
        {"sasl_plain_password": "ignored-flag", "security_protocol": "SASL_SSL"},
        {"STREAMLABELS_SASL_PLAIN_PASSWORD": secret, "STREAMLABELS_SASL_MECHANISM": "PLAIN"},
    )
    assert config.kafka_security() == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "PLAIN",
        "sasl_plain_password": secret,
    }
    assert secret not in repr(config)
    assert secret not in json.dumps(config.redacted())


def test_json_logs_mask_secrets_and_keep_extra_fields():
    out = io.StringIO()
    configure_logging("INFO", secrets=["pa55word"], stream=out)
    try:
        logging.getLogger("service.test").info("token pa55word seen", extra={"offset": 7})
    finally:
        configure_logging("WARNING")
    entry = json.loads(out.getvalue())
    assert entry["message"] == "token *** seen"
    assert entry["offset"] == 7 and entry["level"] == "INFO"
    assert isinstance(JsonFormatter().format(logging.makeLogRecord({"msg": "x"})), str)


# -- messages ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"{not json", "undecodable"),
        (b"[1, 2]", "not_an_object"),
        (b'{"x": {"f": 1}}', "bad_id"),
        (b'{"id": 1.5, "x": {"f": 1}}', "bad_id"),
        (b'{"id": true, "x": {"f": 1}}', "bad_id"),
        (b'{"id": 1, "x": [1, 2]}', "bad_features"),
        (b'{"id": 1, "x": {"f": "1.0"}}', "bad_features"),
        (b'{"id": 1, "x": {"f": false}}', "bad_features"),
        (b'{"id": 1, "x": {"f": NaN}}', "non_finite"),
        (b'{"id": 1, "x": {"f": Infinity}}', "non_finite"),
        (b'{"id": 1, "x": {"f": 1e999}}', "non_finite"),
        (b'{"id": 1, "x": {"f0": 1, "f1": 2, "f2": 3, "f3": 4}}', "too_many_features"),
        (b'{"id": 1, "x": {}, "y": "a"}', "bad_labels"),
        (b'{"id": 1, "x": {}, "y": [1]}', "bad_labels"),
        (b'{"id": 1, "x": {}, "y": ["a", "zebra"]}', "unknown_label"),
        (b'{"id": 1, "x": {}, "y": ["a", "b", "c", "a"]}', "too_many_labels"),
        (b'{"id": 1, "x": {"f": 1}, "pad": "' + b"z" * 300 + b'"}', "too_large"),
        (None, "undecodable"),
    ],
)
def test_invalid_messages_are_refused_with_their_reason(raw, reason):
    codec = Codec(LABELS, max_message_bytes=200, max_features=3)
    with pytest.raises(InvalidMessage) as caught:
        codec.decode(raw)
    assert caught.value.reason == reason
    assert caught.value.detail


def test_valid_messages_decode_in_both_formats():
    for fmt in ("json", "msgpack"):
        codec = Codec(LABELS, format=fmt)
        raw = codec.encode_instance("id-1", {"f": 0.25, "g": 3}, ["c"])
        instance = codec.decode(raw)
        assert instance.id == "id-1" and instance.x == {"f": 0.25, "g": 3}
        assert instance.y == {"a": False, "b": False, "c": True}
        assert codec.decode(codec.encode_instance(9, {}, None)).y is None
    raw = msgpack.packb({"id": 2, "x": {"f": float("nan")}})
    with pytest.raises(InvalidMessage, match="non_finite"):
        Codec(LABELS, format="msgpack").decode(raw)


def test_prediction_message_lists_positive_labels_scores_and_version():
    codec = Codec(LABELS)
    proba = {label: {True: p, False: 1 - p} for label, p in zip(LABELS, (0.9, 0.2, 0.6))}
    predicted = {"a": True, "b": False, "c": True}
    message = json.loads(codec.encode_prediction(5, predicted, proba, 41))
    assert message == {
        "id": 5,
        "labels": ["a", "c"],
        "scores": {"a": 0.9, "b": 0.2, "c": 0.6},
        "model_version": 41,
    }


# -- checkpoints ------------------------------------------------------------------------------


def _trained_model(n: int) -> tuple[IHOMER, list]:
    stream = SyntheticStream(n_instances=n, n_features=8, n_labels=6, seed=3)
    model = IHOMER(labels=stream.label_names, n_min=50)
    data = list(stream)
    for x, y in data:
        model.predict_one(x)
        model.learn_one(x, y)
    return model, data


def test_checkpoint_round_trip_is_exact_and_keeps_the_last_k(tmp_path):
    store = CheckpointStore(tmp_path, keep=2)
    model, data = _trained_model(300)
    for offset in (100, 200, 300):
        store.save(model, {("in", 0): offset, ("in", 1): 7}, {"labels": model.labels})
    names = [p.name for p in store.paths()]
    assert names == ["checkpoint-000000000002.state", "checkpoint-000000000003.state"]
    assert not list(tmp_path.glob(".*.tmp"))
    restored = store.load_latest()
    assert restored.offsets == {("in", 0): 300, ("in", 1): 7}
    probe = [x for x, _ in data[:50]]
    assert [restored.model.predict_proba_one(x) for x in probe] == [
        model.predict_proba_one(x) for x in probe
    ]


def test_corrupt_newest_checkpoint_is_refused_and_the_previous_one_used(tmp_path, caplog):
    store = CheckpointStore(tmp_path, keep=3)
    model, _ = _trained_model(120)
    store.save(model, {("in", 0): 120}, {"labels": model.labels})
    newest = store.save(model, {("in", 0): 999}, {"labels": model.labels})
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    newest.write_bytes(bytes(data))
    with caplog.at_level(logging.ERROR, logger="streamlabels_service.checkpoint"):
        restored = store.load_latest()
    assert restored.offsets == {("in", 0): 120}
    refusals = [r for r in caplog.records if r.getMessage().startswith("checkpoint refused")]
    assert len(refusals) == 1 and refusals[0].checkpoint == str(newest)
    newest.write_bytes(b"")
    store.paths()[0].write_bytes(b"garbage")
    assert store.load_latest() is None


def test_service_restores_the_previous_checkpoint_when_the_newest_is_corrupt(tmp_path, caplog):
    model, _ = _trained_model(150)
    store = CheckpointStore(tmp_path)
    store.save(model, {("in", 0): 150}, {"labels": list(model.labels)})
    store.save(model, {("in", 0): 500}, {"labels": list(model.labels)}).write_bytes(b"torn")
    config = ServiceConfig.from_sources(
        {"labels": ",".join(model.labels), "checkpoint_dir": str(tmp_path)}, {}
    )
    learned = Service(config).pipeline.learned
    with caplog.at_level(logging.INFO):
        resume = learned.restore()
    assert resume == {("in", 0): 150}
    assert learned.model.n_instances == 150
    messages = [r.getMessage() for r in caplog.records]
    assert "checkpoint refused, trying the previous one" in messages
    assert "restored checkpoint" in messages
    other = ServiceConfig.from_sources({"labels": "p,q", "checkpoint_dir": str(tmp_path)}, {})
    with pytest.raises(ConfigError, match="trained on labels"):
        Service(other).pipeline.learned.restore()
    subset = ServiceConfig.from_sources(
        {"labels": ",".join(model.labels), "checkpoint_dir": str(tmp_path), "target": "subset"}, {}
    )
    with pytest.raises(ConfigError, match="decides for target 'micro_f1'"):
        Service(subset).pipeline.learned.restore()


def test_serve_target_is_the_new_model_target(tmp_path):
    config = ServiceConfig.from_sources(
        {"labels": "a,b,c", "target": "macro_f1", "scaling": "sparse"}, {}
    )
    learned = Service(config).pipeline.learned
    learned.restore()
    assert learned.model.target == "macro_f1"
    with pytest.raises(ConfigError, match="target"):
        ServiceConfig.from_sources({"target": "f1"}, {})


def test_checkpoints_are_written_in_the_state_envelope_and_crash_leftovers_removed(tmp_path):
    model, _ = _trained_model(60)
    path = CheckpointStore(tmp_path).save(model, {("in", 0): 60}, {"labels": model.labels})
    saved = loads(path.read_bytes())
    assert (saved["kind"], saved["version"]) == ("streamlabels.service.checkpoint", 2)
    assert "format" not in saved and "format_version" not in saved
    leftover = tmp_path / ".checkpoint-000000000002.state.k3x9.tmp"  # a save killed mid-write
    leftover.write_bytes(path.read_bytes()[:100])
    store = CheckpointStore(tmp_path)
    assert not leftover.exists() and store.paths() == [path]

LEGACY_CHECKPOINT = Path(__file__).parents[1] / "fixtures" / "service-checkpoint-v1.state"


def test_a_checkpoint_of_format_version_1_still_loads():
    """A service checkpoint as the release before the state envelope wrote it (top-level
    ``format`` / ``format_version: 1``). Made with the code at commit 048210d by::

        from service.checkpoint import CheckpointStore
        from streamlabels import IHOMER
        from streamlabels.streams import SyntheticStream
        stream = SyntheticStream(n_instances=60, n_features=4, n_labels=3, seed=1)
        model = IHOMER(labels=stream.label_names, n_min=25, knn_window=20)
        for x, y in stream:
            model.predict_one(x); model.learn_one(x, y)
        CheckpointStore("out").save(model, {("in", 0): 60},
                                    {"labels": list(model.labels), "model_version": 60})

    and copied from ``out/checkpoint-000000000001.state``.
    """
    blob = LEGACY_CHECKPOINT.read_bytes()
    saved = loads(blob)
    assert (saved["format"], saved["format_version"]) == ("streamlabels.service.checkpoint", 1)
    restored = CheckpointStore.load(LEGACY_CHECKPOINT)
    assert restored.offsets == {("in", 0): 60}
    assert restored.metadata == {"labels": ["y0", "y1", "y2"], "model_version": 60}
    assert restored.model.n_instances == 60
    assert saved["model"]["version"] == 3  # the model inside is of the release before, too
    stream = SyntheticStream(n_instances=60, n_features=4, n_labels=3, seed=1)
    model = IHOMER(labels=stream.label_names, n_min=25, knn_window=20)
    for x, y in stream:  # the recipe again, with this release: the same model, byte for byte,
        model.predict_one(x)  # but for the count of empty rows, which that release did not keep
        model.learn_one(x, y)  # (so the restored layer answers empty sets as it did)
    old, new = restored.model.get_state(), model.get_state()
    assert old["experts"]["run"][EMPTY] == -1.0 and new["experts"]["run"][EMPTY] >= 0.0
    old["experts"]["run"][EMPTY] = new["experts"]["run"][EMPTY]
    assert dumps(old) == dumps(new)

# -- telemetry --------------------------------------------------------------------------------


def test_metrics_and_health_endpoints():
    metrics = Metrics()
    metrics.dead_letters.labels(reason="non_finite").inc()
    metrics.micro_f1.set(0.5)
    healthy = [True]
    server = TelemetryServer(metrics, lambda: healthy[0], port=0)
    base = f"http://127.0.0.1:{server.port}"
    try:
        text = urllib.request.urlopen(base + "/metrics").read().decode()
        assert 'streamlabels_dead_letters_total{reason="non_finite"} 1.0' in text
        assert "streamlabels_micro_f1 0.5" in text
        assert json.loads(urllib.request.urlopen(base + "/healthz").read()) == {"status": "ok"}
        healthy[0] = False
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(base + "/healthz")
        assert caught.value.code == 503
    finally:
        server.close()


def test_a_preset_fills_only_the_timing_settings_not_given():
    import argparse

    from streamlabels_service.config import PRESETS, add_arguments, config_from_args

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--throughput", "--linger-ms", "7"])
    config = config_from_args(args, environ={"STREAMLABELS_BATCH_SIZE": "64"})
    assert config.preset == "throughput"
    assert config.linger_ms == 7  # a flag wins
    assert config.batch_size == 64  # so does a variable
    assert config.fetch_max_wait_ms == PRESETS["throughput"]["fetch_max_wait_ms"]
    plain = ServiceConfig.from_sources({}, {})
    assert (plain.fetch_max_wait_ms, plain.linger_ms, plain.batch_size) == (100, 5, 500)
    with pytest.raises(ConfigError, match="fetch_max_wait_ms"):
        ServiceConfig.from_sources({"fetch_max_wait_ms": "-1"}, {})


def test_a_poll_waits_no_longer_than_a_fetch():
    from streamlabels_service.config import PRESETS
    from streamlabels_service.session import POLL_TIMEOUT_MS, poll_timeout_ms

    assert poll_timeout_ms(PRESETS["latency"]["fetch_max_wait_ms"]) == 10
    assert poll_timeout_ms(100) == 100
    assert poll_timeout_ms(500) == POLL_TIMEOUT_MS == 200
    assert poll_timeout_ms(0) == 1



# -- scoring modes ----------------------------------------------------------------------------


def test_strict_scoring_equals_score_one_then_learn_one_over_mixed_batches(data_dir):
    """``strict`` runs labelled stretches as one compiled call and unlabelled ones as one scoring
    pass; what it sends must still be, message by message and bit for bit, what the plain loop
    gives (features only seen in unlabelled messages must not change the model's columns)."""
    stream = datasets.load("enron")
    labels = list(stream.label_names)
    codec = Codec(labels)
    data = [pair for _, pair in zip(range(700), stream)]
    instances = [
        codec.decode(codec.encode_instance(i, x, None if i % 3 == 2 else
                                           [k for k, v in y.items() if v]))
        for i, (x, y) in enumerate(data)
    ]
    config = ServiceConfig.from_sources(
        {"labels": ",".join(labels), "scaling": "sparse", "scoring": "strict"}, environ={}
    )
    role = Single(config, labels, Metrics())
    role.start(threading.Event())
    sent = []
    for start in range(0, len(instances), 64):
        role.serve(instances[start : start + 64],
                   lambda *message: sent.append((message[0], message[1], message[2], message[3])))

    reference = IHOMER(labels=labels, scaling="sparse")
    expected = []
    for instance in instances:
        flags, scores = reference.score_one(instance.x)
        expected.append((instance.id, flags.tolist(), scores.tolist(), reference.n_instances))
        if instance.y is not None:
            reference.learn_one(instance.x, instance.y)
    assert sent == expected
    assert role.model.n_instances == sum(i.y is not None for i in instances) == 467



# -- feature scaling --------------------------------------------------------------------------


def _rows(name: str, n: int) -> tuple[list, list]:
    """The labels and the first ``n`` (x, y) pairs of a dataset."""
    stream = datasets.load(name)
    return list(stream.label_names), list(itertools.islice(stream, n))


def test_auto_scaling_reads_dense_rows_as_standard_and_sparse_rows_as_sparse(data_dir):
    assert ServiceConfig.from_sources({}, {}).scaling == "auto"
    assert ServiceConfig.from_sources({"scaling": "none"}, {}).scaling == "none"
    _, yeast = _rows("yeast", 500)
    _, tmc = _rows("tmc2007-500", 500)
    for n in (2, 5, 500):
        assert choose_scaling([x for x, _ in yeast[:n]])[0] == "standard"
        assert choose_scaling([x for x, _ in tmc[:n]])[0] == "sparse"
    numbers = choose_scaling([x for x, _ in tmc])[1]
    assert numbers["rows"] == 500 and numbers["features_named"] <= 500
    assert numbers["share"] == round(numbers["features_per_row"] / numbers["features_named"], 3)
    assert choose_scaling([x for x, _ in yeast[:1]])[0] == "standard"  # one row shows no gaps


@pytest.mark.parametrize("name, expected", [("yeast", "standard"), ("tmc2007-500", "sparse")])
def test_auto_scaling_builds_the_model_from_the_first_polled_batch(
    data_dir, tmp_path, caplog, name, expected
):
    """Without a checkpoint or a --labels-from file the model waits for the first batch with
    rows; then batch scoring: the unlabelled rows by the model before the batch, the labelled
    ones test-then-train in order."""
    labels, data = _rows(name, 200)
    codec = Codec(labels)
    instances = [
        codec.decode(codec.encode_instance(i, x, None if i % 4 == 3 else
                                           [k for k, v in y.items() if v]))
        for i, (x, y) in enumerate(data)
    ]
    config = ServiceConfig.from_sources(
        {"labels": ",".join(labels), "checkpoint_dir": str(tmp_path)}, environ={}
    )
    role = Single(config, labels, Metrics())
    with caplog.at_level(logging.INFO, logger="streamlabels_service.learning"):
        role.start(threading.Event())
        assert role.model is None and role.version == 0
        assert role.serve([], lambda *message: None) == (0, 0)  # a batch of dead letters only
        assert role.model is None
        role.close(True, {("in", 0): 7})  # nothing to checkpoint yet, nothing breaks
        assert not list(tmp_path.iterdir())
        sent = []
        for start in range(0, len(instances), 50):
            role.serve(instances[start : start + 50], lambda *message: sent.append(message))
    assert role.model.scaling == expected
    built = [r for r in caplog.records if r.getMessage() == "new model"]
    assert len(built) == 1 and built[0].scaling == expected
    assert (built[0].scaling_from, built[0].rows) == ("the first polled batch", 50)
    trainer = Trainer(config, labels, Metrics())  # the other role that owns a model
    trainer.start(threading.Event())
    assert trainer.serve(instances[:50], None) == (0, 38)
    assert trainer.model.scaling == expected and trainer.version == 38

    reference = IHOMER(labels=labels, scaling=expected)
    expected_sent = []
    for start in range(0, len(instances), 50):
        batch = instances[start : start + 50]
        version = reference.n_instances
        unlabelled = [i for i in batch if i.y is None]
        before = dict(zip([i.id for i in unlabelled],
                          zip(*reference.score_many([i.x for i in unlabelled]))))
        for instance in batch:
            if instance.y is None:
                flags, scores = before[instance.id]
                expected_sent.append((instance.id, flags.tolist(), scores.tolist(), version))
            else:
                flags, scores = reference.score_one(instance.x)
                expected_sent.append((instance.id, flags.tolist(), scores.tolist(),
                                      reference.n_instances))
                reference.learn_one(instance.x, instance.y)
    assert sent == expected_sent
    learned_before = itertools.accumulate((i.y is not None for i in instances), initial=0)
    assert any(i.y is None and message[3] < n  # scored by an older model than strict's
               for i, message, n in zip(instances, sent, learned_before))


def test_auto_scaling_from_the_labels_from_file_and_a_checkpoint_keeps_its_own(
    data_dir, tmp_path, caplog
):
    """A --labels-from file decides before any poll; a restored model keeps its scaling."""
    for name, expected in (("yeast", "standard"), ("tmc2007-500", "sparse")):
        config = ServiceConfig.from_sources({"labels_from": name}, environ={})
        with caplog.at_level(logging.INFO, logger="streamlabels_service.learning"):
            learned = Service(config).pipeline.learned
            learned.restore()
        assert learned.model.scaling == expected
        assert caplog.records[-1].scaling_from == name and caplog.records[-1].rows == 500
    labels, data = _rows("yeast", 50)
    model = IHOMER(labels=labels, scaling="sparse")
    model.learn_many([x for x, _ in data], [y for _, y in data])
    CheckpointStore(tmp_path).save(model, {("in", 0): 50}, {"labels": labels})
    config = ServiceConfig.from_sources(
        {"labels_from": "yeast", "checkpoint_dir": str(tmp_path)}, environ={}
    )
    learned = Service(config).pipeline.learned
    assert learned.restore() == {("in", 0): 50}
    assert learned.model.scaling == "sparse" and learned.version == 50
