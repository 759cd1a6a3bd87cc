"""Pickle-free checkpoints: the byte format, its refusal of damage, and exact IHOMER restores."""

from __future__ import annotations

import math
import re
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from river import linear_model

from streamlabels.ihomer import IHOMER
from streamlabels.state import (
    FORMAT_VERSION,
    StateError,
    dumps,
    loads,
    seal,
    unseal,
    unwrap,
    wrap,
)
from streamlabels.streams import Drift, SyntheticStream, datasets

# -- the byte format ----------------------------------------------------------------------------

DTYPES = [
    np.bool_,
    np.int8,
    np.int32,
    np.int64,
    np.uint16,
    np.uint64,
    np.float32,
    np.float64,
    np.complex128,
    np.dtype(">f8"),
    np.dtype(">i4"),
]
scalars = (
    st.none() | st.booleans() | st.integers(-(2**80), 2**80) | st.floats() | st.text(max_size=6)
)
arrays = hnp.arrays(
    st.sampled_from(DTYPES), hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
)
keys = st.sampled_from(["$", "i", "v", "tree"]) | st.text(max_size=4)
values = st.recursive(
    scalars | arrays,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(keys, inner, max_size=4)
    ),
    max_leaves=25,
)


def _same(a, b) -> bool:
    """Equal in type and value; arrays byte for byte (dtype in native order), nan equal to nan."""
    if isinstance(a, np.ndarray):
        return (
            type(b) is np.ndarray
            and a.dtype.newbyteorder("=") == b.dtype
            and a.shape == b.shape
            and a.astype(b.dtype).tobytes() == b.tobytes()
        )
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return a == b


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(keys, values, max_size=5))
def test_round_trip_keeps_types_values_and_order(state):
    assert _same(state, loads(dumps(state)))


def test_round_trip_details():
    state = {
        "z": -0.0,
        "big": -(2**100),
        "nan": math.nan,
        "inf": [math.inf, -math.inf],
        "np": [np.float64(0.1), np.int64(7), np.bool_(True)],
        "$": {"$": "array", "i": 0},
        "empty": np.zeros((0, 3), dtype=np.uint8),
        "t": (1, (2,), []),
    }
    out = loads(dumps(state))
    assert math.copysign(1.0, out["z"]) == -1.0 and out["big"] == -(2**100)
    assert math.isnan(out["nan"]) and out["inf"] == [math.inf, -math.inf]
    assert out["np"] == [0.1, 7, True] and [type(v) for v in out["np"]] == [float, int, bool]
    assert out["$"] == {"$": "array", "i": 0}
    assert out["empty"].shape == (0, 3) and out["empty"].dtype == np.uint8
    assert out["t"] == (1, (2,), [])
    out_array = loads(dumps({"a": np.arange(4.0)}))["a"]
    out_array[0] = 9.0  # restored arrays are writable copies


@pytest.mark.parametrize(
    "state, match",
    [
        ({"a": np.array(["x"], dtype=object)}, "dtype object"),
        ({"a": np.array(["x"])}, "dtype <U1"),
        ({"a": {1: 2}}, "keys must be str"),
        ({"a": {1, 2}}, "type set"),
        ({"a": [b"bytes"]}, "type bytes"),
    ],
)
def test_dumps_refuses_what_it_cannot_store(state, match):
    with pytest.raises(StateError, match=match):
        dumps(state)


SMALL = {
    "w": np.array([1.5, -2.0]),
    "n": np.array([3, 4], dtype=np.int16),
    "t": 12,
    "name": "m",
    "pair": (None, True),
    "eps": math.inf,
}


def test_every_single_byte_flip_is_refused():
    blob = dumps(SMALL)
    assert _same(loads(blob), SMALL)
    for pos in range(len(blob)):
        for mask in (0x01, 0x80, 0xFF):
            damaged = bytearray(blob)
            damaged[pos] ^= mask
            with pytest.raises(StateError):
                loads(bytes(damaged))


def test_every_truncation_and_any_trailing_bytes_are_refused():
    blob = dumps(SMALL)
    for end in range(len(blob)):
        with pytest.raises(StateError):
            loads(blob[:end])
    with pytest.raises(StateError, match="trailing"):
        loads(blob + b"\x00")


def test_refusals_say_why():
    blob = bytearray(dumps(SMALL))
    with pytest.raises(StateError, match="magic"):
        loads(b"X" + bytes(blob[1:]))
    version = bytearray(blob)
    version[8:12] = struct.pack("<I", FORMAT_VERSION + 1)
    with pytest.raises(StateError, match="version 2"):
        loads(bytes(version))
    blob[-40] ^= 1
    with pytest.raises(StateError, match="checksum"):
        loads(bytes(blob))



# -- the envelope every saved format shares ------------------------------------------------------


def test_a_sealed_state_opens_to_its_version_and_body():
    version, body = unseal(seal("test.thing", 4, SMALL), "test.thing", (3, 4))
    assert version == 4 and _same(body, SMALL)
    assert list(wrap("test.thing", 4, SMALL)) == ["kind", "version", *SMALL]


@pytest.mark.parametrize(
    ("state", "match"),
    [
        ({"kind": "test.other", "version": 1}, "not a test.thing state: its kind is 'test.other'"),
        ({"version": 1, "n": 2}, "not a test.thing state: it names no kind"),
        ([1, 2], "not a test.thing state: found a list"),
        ({"kind": "test.thing", "version": 5}, "version 5: this streamlabels reads versions 1, 2"),
        ({"kind": "test.thing"}, "version None: this streamlabels reads versions 1, 2"),
        ({"kind": "test.thing", "version": True}, "version True"),
        ({"kind": "test.thing", "version": 1.0}, "version 1.0"),
        ({"kind": ["test.thing"], "version": 1}, "its kind is \\['test.thing'\\]"),
    ],
)
def test_unwrap_refuses_another_kind_or_version_naming_what_it_found(state, match):
    with pytest.raises(StateError, match=match):
        unwrap(state, "test.thing", (1, 2))


def test_unseal_refuses_damaged_bytes_before_it_reads_the_envelope():
    blob = bytearray(seal("test.thing", 1, SMALL))
    blob[-40] ^= 1
    with pytest.raises(StateError, match="checksum"):
        unseal(bytes(blob), "test.thing", (1,))


def test_wrap_refuses_a_body_that_uses_the_envelopes_keys():
    with pytest.raises(StateError, match="cannot use the envelope's keys \\['version'\\]"):
        wrap("test.thing", 1, {"version": "mine"})


def test_states_written_before_the_envelope_are_read_under_their_old_keys():
    service_v1 = {"format": "test.thing", "format_version": 1, "offsets": []}
    snapshot_v2 = {"format": "test.thing", "version": 2, "labels": ["a"]}
    assert unwrap(service_v1, "test.thing", (1, 2)) == (1, {"offsets": []})
    assert unwrap(snapshot_v2, "test.thing", (1, 2)) == (2, {"labels": ["a"]})
    with pytest.raises(StateError, match="its kind is 'test.other'"):
        unwrap({"format": "test.other", "format_version": 1}, "test.thing", (1,))
    enveloped = {"kind": "test.thing", "version": 1, "format": "a body field"}
    assert unwrap(enveloped, "test.thing", (1,)) == (1, {"format": "a body field"})

PICKLING = re.compile(
    r"^\s*(from\s+(c?pickle|dill|cloudpickle|joblib|shelve)\b"
    r"|import\s+[^#\n]*\b(c?pickle|dill|cloudpickle|joblib|shelve)\b)"
    r"|__import__\(\s*[\"'](c?pickle|dill|cloudpickle|joblib|shelve)"
    r"|allow_pickle\s*=\s*True",
    re.MULTILINE,
)


def test_the_pickle_pattern_catches_imports():
    assert PICKLING.search("import os, pickle") and PICKLING.search("    from pickle import loads")
    assert PICKLING.search("np.load(f, allow_pickle=True)")
    assert not PICKLING.search("# checkpoints never pickle\nimport numpy")


def test_no_pickle_in_the_library():
    root = Path(__file__).resolve().parents[1] / "streamlabels"
    offenders = [
        str(path.relative_to(root))
        for path in sorted(root.rglob("*.py"))
        if PICKLING.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


# -- IHOMER checkpoints -------------------------------------------------------------------------


def _check_restores(stream: list, checkpoints: dict, **params) -> list:
    """Run a model over ``stream``; at each checkpoint start a restored twin from its bytes.

    Every twin then runs alongside the model: each prediction must be identical, and so must the
    events and the final state. ``checkpoints`` maps an instance count to a predicate the model
    must satisfy there (that it is warming up a shadow, say). Returns the final model.
    """
    model = IHOMER(**params)
    twins = []
    for t, (x, y) in enumerate(stream):
        if t in checkpoints:
            assert checkpoints[t](model), f"checkpoint at {t}"
            blob = dumps(model.get_state())
            twins.append(IHOMER.from_state(loads(blob)))
            assert dumps(twins[-1].get_state()) == blob  # orders included
        if model._state.started:
            want = model.predict_proba_one(x)
            for twin in twins:
                assert twin.predict_proba_one(x) == want, f"instance {t}"
        model.learn_one(x, y)
        for twin in twins:
            twin.learn_one(x, y)
    final = dumps(model.get_state())
    for twin in twins:
        assert twin.events == model.events
        assert dumps(twin.get_state()) == final
    return model


def _synthetic():
    stream = SyntheticStream(
        n_instances=6_000, drifts=(Drift(at=3_000, kind="cooccurrence"),), seed=1
    )
    return list(stream), stream.label_names


def test_restore_on_a_drifting_stream_continues_bit_for_bit():
    stream, _ = _synthetic()

    def shadow(model):
        return model._state.transition.shadow is not None and model._state.transition.router_left > 0

    def handed_over(model):
        return shadow(model) and _handed_over(model) != []

    def just_detected(model):
        return model._state.structure.loss_detector.drift_detected

    model = _check_restores(
        stream,
        {
            0: lambda m: not m._state.started,
            700: shadow,
            1_100: handed_over,
            3_264: just_detected,
            3_900: shadow,
        },
    )
    kinds = {event["kind"] for event in model.events}
    assert {"split", "commit", "drift"} <= kinds


def test_restore_on_enron_continues_bit_for_bit(data_dir):
    stream = list(datasets.load("enron"))
    model = _check_restores(
        stream,
        {
            250: lambda m: m._state.transition.shadow is None,
            800: lambda m: m._state.transition.shadow is not None,
            1_000: lambda m: m._state.transition.shadow is not None,
        },
        scaling="sparse",
        n_min=100,
    )
    assert len(model.groups) > 1


def test_restored_model_has_not_shared_its_arrays():
    stream, labels = _synthetic()
    model = IHOMER(labels=labels)
    for x, y in stream[:700]:
        model.learn_one(x, y)
    twin = IHOMER.from_state(model.get_state())
    before = dumps(twin.get_state())
    for x, y in stream[700:900]:
        model.learn_one(x, y)
    assert dumps(twin.get_state()) == before


def _handed_over(model) -> list[int]:
    """Active groups whose learner was taken over from the shadow's unchanged group."""
    shadow = model._state.transition.shadow
    return [
        k
        for k, group in enumerate(model._state.transition.active.groups)
        if len(group) > 1 and group in shadow.groups and shadow.locals[shadow.groups.index(group)]
        is None
    ]


def test_shadow_does_not_train_the_learners_it_handed_over():
    """An unchanged group's learner moves to the new hierarchy and learns once per instance."""
    stream, labels = _synthetic()
    model = IHOMER(labels=labels)
    for x, y in stream[:1_100]:
        model.learn_one(x, y)
    (k, *_), group = _handed_over(model), None
    group = model._state.transition.active.groups[k]
    learner = model._state.transition.active.locals[k]
    alone = learner.subset(range(len(group)))
    for x, y in stream[1_100:1_300]:
        positives = [labels.index(label) for label, v in y.items() if v]
        if set(positives) & set(group):
            alone.learn_one(model._state.features.row(x), np.array([label in positives for label in group]))
        model.learn_one(x, y)
    np.testing.assert_array_equal(learner.weights, alone.weights)

    twin = IHOMER.from_state(loads(dumps(model.get_state())))
    assert dumps(twin.get_state()) == dumps(model.get_state())


def test_river_learners_cannot_be_checkpointed():
    model = IHOMER(learner=linear_model.LogisticRegression())
    with pytest.raises(StateError, match="learner='linear'"):
        model.get_state()


def test_from_state_refuses_foreign_or_broken_states():
    stream, labels = _synthetic()
    model = IHOMER(labels=labels)
    for x, y in stream[:300]:
        model.learn_one(x, y)
    state = model.get_state()
    with pytest.raises(StateError, match="not a streamlabels.IHOMER state"):
        IHOMER.from_state({"kind": "other"})
    with pytest.raises(StateError, match="version"):
        IHOMER.from_state({**state, "version": 99})
    transition = state["transition"]
    broken = {**state, "transition": {**transition, "active": {**transition["active"],
                                                                "router": 10**6}}}
    with pytest.raises(StateError, match="inconsistent"):
        IHOMER.from_state(broken)
    blob = bytearray(dumps(state))
    blob[len(blob) // 2] ^= 0x10
    with pytest.raises(StateError, match="checksum"):
        loads(bytes(blob))


FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize(("version", "release"), [(3, "streamlabels 0.1 (main 048210d)"),
                                                   (4, "main 7031e5c")])
def test_an_older_checkpoint_loads_and_continues_as_the_release_that_wrote_it(version, release,
                                                                             data_dir):
    """``fixtures/ihomer-format<version>.state`` was written by ``release``:
    ``IHOMER(labels=<yeast's>, n_min=25, delta=0.5, router_warmup=100, local_warmup=60,
    knn_window=100)`` after yeast's first 200 instances (``predict_one`` then ``learn_one``), in
    the middle of a shadow warm-up. ``ihomer-format<version>-continued.npz`` holds what that
    release's ``score_one`` answered for instances 200-599, each before learning it with
    ``learn_one``. Those releases answered the experts' mix itself; this one answers it
    calibrated, an order-keeping map of the mix, so the mix is read where the layer keeps it."""
    state = loads((FIXTURES / f"ihomer-format{version}.state").read_bytes())
    assert state["version"] == version
    model = IHOMER.from_state(state)
    assert model._state.transition.shadow is not None  # the warm-up goes on after loading
    assert model.target == "micro_f1"
    upgraded = IHOMER.from_state(loads(dumps(model.get_state())))
    assert model.get_state()["version"] == 5
    expected = np.load(FIXTURES / f"ihomer-format{version}-continued.npz")
    stream = list(datasets.load("yeast"))[200:600]
    for i, (x, y) in enumerate(stream):
        for restored in (model, upgraded):
            labels, scores = restored.score_one(x)
            mix = restored._state.experts.scratch.scores
            np.testing.assert_array_equal(labels, expected["labels"][i])
            np.testing.assert_array_equal(mix, expected["scores"][i])
            np.testing.assert_array_equal(np.argsort(scores, kind="stable"),
                                          np.argsort(mix, kind="stable"))
            restored.learn_one(x, y)


def test_a_subset_checkpoint_saved_with_nine_set_experts_continues_with_them(data_dir):
    """``fixtures/ihomer-format5-subset.state`` was written by main 338624c, before the
    likeliest-set expert: ``IHOMER(labels=<yeast's>, n_min=25, delta=0.5, router_warmup=100,
    local_warmup=60, knn_window=100, target="subset")`` after yeast's first 200 instances
    (``predict_one`` then ``learn_one``); ``-continued.npz`` holds its labels and the experts'
    mix (``score_one``) for instances 200-599, each before ``learn_one``. It keeps its nine set
    experts, and so its decisions, exactly."""
    model = IHOMER.from_state(loads((FIXTURES / "ihomer-format5-subset.state").read_bytes()))
    assert model._state.experts.layer.set_weights.shape == (9,)
    fresh = IHOMER(labels=["a", "b"], target="subset")._state.experts.layer
    assert fresh.set_weights.shape == (10,)  # a new model has the likeliest set too
    expected = np.load(FIXTURES / "ihomer-format5-subset-continued.npz")
    for i, (x, y) in enumerate(list(datasets.load("yeast"))[200:600]):
        labels, _ = model.score_one(x)
        np.testing.assert_array_equal(labels, expected["labels"][i])
        np.testing.assert_array_equal(model._state.experts.scratch.scores, expected["scores"][i])
        model.learn_one(x, y)
