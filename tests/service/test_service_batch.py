"""The service's ``batch`` scoring: a polled batch's unlabelled messages scored at once from the
model before it, its labelled ones test-then-train in one pass.

Checked on the test broker against two references: ``strict`` scoring (the same bytes when a poll
returns one message) and an in-process replay in offset order that scores each labelled message
before learning it and each unlabelled one from a snapshot of the model at the version it names
(its batch's start, read back from ``model_version``).
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

pytest.importorskip("kafka")
pytest.register_assert_rewrite("service_fixtures")

from service_fixtures import InThread, distinct_ids, fresh_topics, service_config

from streamlabels import IHOMER
from streamlabels.scoring import export, predict_many, predict_proba_many, score_many, to_csr
from streamlabels.streams import datasets
from streamlabels_service.codec import Codec
from streamlabels_service.config import ServiceConfig
from streamlabels_service.consumer import Service
from streamlabels_service.topics import TopicReader, instance_messages, produce

pytest_plugins = ["service_fixtures"]


@pytest.fixture(scope="module")
def yeast(data_dir):
    stream = datasets.load("yeast")
    return list(stream.label_names), list(itertools.islice(stream, 400))


def _serve(broker, labels, messages, n: int, **settings) -> list:
    """Run a service over ``messages`` (key, value) until ``n`` ids are predicted; the records."""
    topics = fresh_topics(broker, "batch")
    produce(broker.bootstrap_servers, topics["input_topic"], messages)
    service = Service(service_config(broker, topics, labels, scaling="standard", **settings))
    with InThread(service), TopicReader(broker.bootstrap_servers, topics["output_topic"]) as out:
        return out.read_until(distinct_ids(n), timeout=180)


def test_batch_scoring_is_the_default_and_can_be_set_from_the_environment():
    assert ServiceConfig.from_sources({}, {}).scoring == "batch"
    environ = {"STREAMLABELS_SCORING": "strict"}
    assert ServiceConfig.from_sources({}, environ).scoring == "strict"


def test_a_scored_row_encodes_to_the_bytes_of_a_strict_prediction():
    labels = ["a", "b", "c"]
    model = IHOMER(labels=labels)
    for i in range(60):
        y = {"a": i % 3 == 0, "b": i % 2 == 0, "c": False}
        model.learn_one({"u": float(i % 3), "v": 1.0}, y)
    x = {"u": 2.0, "v": 1.0, "unseen": 4.0}
    snapshot = export(model)
    flags, scores = score_many(snapshot, to_csr(snapshot, [x]))
    for format in ("json", "msgpack"):
        codec = Codec(labels, format)
        strict = codec.encode_prediction(
            "q", model.predict_one(x), model.predict_proba_one(x), model.n_instances
        )
        assert codec.encode_scored("q", flags[0].tolist(), scores[0].tolist(), 60) == strict


def test_one_scoring_pass_gives_the_labels_and_scores_of_the_two_separate_passes(yeast):
    labels, data = yeast
    model = IHOMER(labels=labels, scaling="standard")
    for x, y in data[:300]:
        model.learn_one(x, y)
    snapshot = export(model)
    rows = to_csr(snapshot, [x for x, _ in data[300:]])  # 100 rows: the parallel scorer
    flags, scores = score_many(snapshot, rows)
    assert np.array_equal(flags, predict_many(snapshot, rows))
    assert np.array_equal(scores, predict_proba_many(snapshot, rows))
    one, few = score_many(snapshot, rows[:3])  # the serial path
    assert np.array_equal(one, flags[:3]) and np.array_equal(few, scores[:3])


def test_one_message_per_poll_gives_exactly_the_strict_predictions(broker, yeast):
    labels, data = yeast
    messages = list(instance_messages(data[:250], Codec(labels)))
    strict = _serve(broker, labels, messages, 250, scoring="strict", batch_size=50)
    batch = _serve(broker, labels, messages, 250, scoring="batch", batch_size=1)
    assert [r.key for r in batch] == [r.key for r in strict]
    assert [r.value for r in batch] == [r.value for r in strict]
    assert [json.loads(r.value)["model_version"] for r in batch] == list(range(250))


def test_unlabelled_messages_are_scored_by_the_model_as_it_stood_before_their_batch(broker,
                                                                                   yeast):
    labels, data = yeast
    codec = Codec(labels)
    # Every fifth instance is unlabelled (predicted, not learned); two invalid messages go to the
    # dead-letter topic and take no part.
    stream = [
        (i, codec.encode_instance(i, x, None if i % 5 == 4 else [k for k, v in y.items() if v]))
        for i, (x, y) in enumerate(data)
    ]
    messages = stream[:100] + [("bad1", b"{oops")] + stream[100:300] + [("bad2", b"[]")]
    messages += stream[300:]
    records = _serve(broker, labels, messages, len(data), scoring="batch", batch_size=64)
    outputs = [json.loads(r.value) for r in records]
    assert [o["id"] for o in outputs] == list(range(len(data)))

    model = IHOMER(labels=labels, scaling="standard")
    snapshots = {}  # the model at each version an unlabelled message names
    wanted = {o["model_version"] for o in outputs if o["id"] % 5 == 4}
    older = 0
    for output in outputs:
        x, y = data[output["id"]]
        if model.n_instances in wanted:
            snapshots.setdefault(model.n_instances, export(model))
        if output["id"] % 5 == 4:
            version = output["model_version"]
            assert version <= model.n_instances
            older += version < model.n_instances
            snapshot = snapshots[version]
            flags, scores = score_many(snapshot, to_csr(snapshot, [x]))
            guess, proba = flags[0], scores[0]
        else:
            assert output["model_version"] == model.n_instances
            guess, proba = model.score_one(x)
            model.learn_one(x, y)
        assert output["labels"] == [label for label, g in zip(labels, guess) if g]
        assert list(output["scores"].values()) == proba.tolist()
    assert older > 0, "no unlabelled message shared a poll with earlier labelled ones"
    assert model.n_instances == len(data) - len(data) // 5
