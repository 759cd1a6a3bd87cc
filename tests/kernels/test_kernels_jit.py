"""Kernels answer from Python while they compile in the background, bit for bit as compiled.

A fresh process with an empty numba cache serves its first instances by running the kernels'
Python source (``streamlabels.kernels.jit``); these tests check that the answers and the learned
state are exactly those of compiled kernels, across the moment the compiled code takes over.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

_SCRIPT = textwrap.dedent(
    """
    import hashlib, json, sys, time
    import numpy as np
    from streamlabels import IHOMER
    from streamlabels.kernels import jit, linear
    from streamlabels.state import dumps
    from streamlabels.streams import datasets

    def wait():
        deadline = time.monotonic() + 600
        while not jit.compile_queue_empty() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert jit.compile_queue_empty(), "the kernels did not compile within 10 minutes"

    compiled_first = sys.argv[1] == "compiled-first"
    report = {}
    for name, scaling, handover in (("yeast", "standard", 40), ("enron", "sparse", 30)):
        stream = list(datasets.load(name))[:300]
        model = IHOMER(labels=list(datasets.load(name).label_names), scaling=scaling, n_min=50)
        if compiled_first:  # every one-row kernel is called (scores need a learned router)
            for x, y in stream[:2]:
                model.score_one(x)
                model.learn_one(x, y)
            wait()
            model = IHOMER(labels=model.labels, scaling=scaling, n_min=50)
        digest, python_rows = hashlib.sha256(), 0
        for i, (x, y) in enumerate(stream):
            python_rows += not linear.predict_row.ready
            labels, scores = model.score_one(x)
            digest.update(labels.tobytes() + scores.tobytes())
            model.learn_one(x, y)
            if i == handover:
                wait()
        digest.update(dumps(model.get_state()))
        report[name] = {"digest": digest.hexdigest(), "python_rows": python_rows}
    print(json.dumps(report))
    """
)


def _run(mode: str, cache, data_dir) -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "STREAMLABELS_DATA": str(data_dir)}
    result = subprocess.run([sys.executable, "-c", _SCRIPT, mode], env=env, capture_output=True,
                            text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="needs numba's compiler")
def test_a_cold_process_answers_from_python_then_compiled_exactly_as_compiled(tmp_path, data_dir):
    cold = _run("handover", tmp_path / "cache", data_dir)  # an empty cache: Python first
    warm = _run("compiled-first", tmp_path / "cache", data_dir)
    for name in ("yeast", "enron"):  # the same answers and learned state, byte for byte
        assert cold[name]["digest"] == warm[name]["digest"], name
        assert warm[name]["python_rows"] == 0
    # In the cold process the first scored rows of yeast came from Python, by construction (a
    # kernel is ready only once the background thread has compiled it), the rows after the
    # handover from compiled code (it waits for the compiler).
    assert cold["yeast"]["python_rows"] >= 1


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="needs numba's compiler")
@pytest.mark.parametrize("target", ["micro_f1", "macro_f1", "example_f1", "hamming", "subset"])
def test_the_decision_layer_in_python_decides_and_learns_as_compiled(target, data_dir):
    """Every decision target's rule, run as Python source (as a cold process runs it) and
    compiled, over yeast's rows with scores that move: the same labels and the same state."""
    import numpy as np

    from streamlabels.ihomer.experts import ExpertLayer
    from streamlabels.kernels import experts, jit
    from streamlabels.streams import datasets
    from streamlabels.streams.arrays import ArrayStream

    stream = ArrayStream.read(datasets.load("yeast"), 400)
    X = stream.X.toarray() if hasattr(stream.X, "toarray") else np.asarray(stream.X)
    rng = np.random.default_rng(0)
    layers = [ExpertLayer(stream.Y.shape[1], ("knn", "context"), "hedge", "f-optimal", 5, 50,
                          True, target) for _ in range(2)]
    for layer in layers:
        layer.reserve(stream.X.shape[1])
    columns = np.arange(stream.X.shape[1])
    for x, y in zip(X, stream.Y):
        model_scores = np.clip(0.6 * y + 0.5 * rng.random(len(y)) - 0.1, 0.0, 1.0)
        answers = []
        for as_python, layer in zip((False, True), layers):
            labels = np.zeros(len(y), dtype=bool)
            decide, learn = experts.decide_row, experts.learn_row
            if as_python:
                decide, learn = decide.py_func, learn.py_func
            jit._python.active = as_python
            try:
                decide(model_scores, columns, x, layer.layer, layer.scratch, labels)
                learn(y, columns, x, layer.layer, layer.scratch)
            finally:
                jit._python.active = False
            answers.append(labels)
        np.testing.assert_array_equal(answers[0], answers[1])
    for name in experts.Layer._fields[:-1]:
        np.testing.assert_array_equal(getattr(layers[0].layer, name),
                                      getattr(layers[1].layer, name), err_msg=name)


_LEARN_ONLY = textwrap.dedent(
    """
    import time
    from streamlabels import IHOMER
    from streamlabels.kernels import experts, jit
    from streamlabels.streams import datasets

    stream = datasets.load("yeast")
    model = IHOMER(labels=list(stream.label_names), n_min=50)
    for x, y in list(stream)[:5]:
        model.predict_one(x)
        model.learn_one(x, y)
    deadline = time.monotonic() + 600
    while not jit.compile_queue_empty() and time.monotonic() < deadline:
        time.sleep(0.1)
    print(getattr(experts.probabilities, "ready", False))
    """
)


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="needs numba's compiler")
def test_a_loop_that_only_learns_has_the_probabilities_compiled_for_its_first_proba(data_dir):
    """predict_proba_one after a predict/learn loop must not run the calibration as Python."""
    env = {**os.environ, "STREAMLABELS_DATA": str(data_dir)}
    result = subprocess.run([sys.executable, "-c", _LEARN_ONLY], env=env, capture_output=True,
                            text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "True"


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="needs numba's compiler")
def test_a_call_under_way_when_the_compiler_swaps_the_class_reaches_the_compiled_code():
    """The compiler thread marks a kernel ready, then makes it a plain CPUDispatcher; a call that
    entered ``Kernel.__call__`` before the swap runs on after it (a race once seen in CI)."""
    import time

    import numpy as np
    from numba.core.registry import CPUDispatcher

    from streamlabels.kernels import adwin, jit

    state = adwin.new_state(1)
    adwin.update(0, 0.5, state, 0.002, 32, 5, 10)  # queue the kernels, or find them compiled
    adwin.estimation(0, state)
    deadline = time.monotonic() + 600
    while not jit.compile_queue_empty() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert type(adwin.estimation) is CPUDispatcher and adwin.estimation.ready
    under_way = jit.Kernel.__call__(adwin.estimation, 0, state)  # entered as a Kernel was
    assert under_way == adwin.estimation(0, state) == np.float64(0.5)
