"""Non-finite feature values (NaN, inf) never poison a model: every input path leaves them out as
missing and counts them, or refuses them when asked to (``nonfinite="raise"``)."""

from __future__ import annotations

import gzip
import json
import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse

from streamlabels import IHOMER
from streamlabels.cli import main
from streamlabels.evaluate.metrics import MultiLabelMetrics
from streamlabels.streams import datasets


def _poisoned(X: np.ndarray, rate: float, seed: int) -> tuple[np.ndarray, int]:
    rng = np.random.default_rng(seed)
    bad = rng.random(X.shape) < rate
    X = X.copy()
    X[bad] = rng.choice([np.nan, np.inf, -np.inf], size=int(bad.sum()))
    return X, int(bad.sum())


def _micro_f1(Y, predicted) -> float:
    metrics = MultiLabelMetrics(Y.shape[1])
    metrics.update(Y, predicted)
    return metrics.get()["micro_f1"]


@pytest.fixture(scope="module")
def yeast(data_dir):
    data = datasets.load_arrays("yeast")
    return np.asarray(data.X)[:1_200], data.Y[:1_200], data.feature_names, data.label_names


@pytest.mark.parametrize("form", ["dicts", "numpy", "pandas", "sparse"])
def test_every_learning_path_leaves_poisoned_values_out_and_counts_them(yeast, form):
    X, Y, features, labels = yeast
    clean = IHOMER(labels=labels, features=features)
    clean_f1 = _micro_f1(Y, clean.predict_learn_many(X, Y, features))
    poisoned, n_bad = _poisoned(X, 0.05, seed=1)
    model = IHOMER(labels=labels, features=features)
    if form == "dicts":
        predicted = np.zeros(Y.shape, dtype=bool)
        for i in range(len(Y)):
            x = dict(zip(features, poisoned[i].tolist()))
            predicted[i] = list(model.predict_one(x).values())
            model.learn_one(x, dict(zip(labels, Y[i].tolist())))
        predicted[0] = False
    else:
        X_in = {
            "numpy": poisoned,
            "pandas": pd.DataFrame(poisoned, columns=features),
            "sparse": scipy.sparse.csr_matrix(np.where(np.isnan(poisoned), 7.0, poisoned)),
        }[form]
        if form == "sparse":  # scipy keeps inf but not NaN through csr_matrix: put NaN back
            X_in.data[X_in.data == 7.0] = np.nan
        predicted = np.asarray(model.predict_learn_many(X_in, Y, features))
    assert model.n_nonfinite == n_bad
    assert abs(_micro_f1(Y, predicted) - clean_f1) < 0.03
    proba = model.predict_proba_many(pd.DataFrame(poisoned[-50:], columns=features))
    assert np.isfinite(proba.to_numpy()).all()
    x = dict(zip(features, poisoned[-1].tolist()))
    one = [model.predict_proba_one(x)[label][True] for label in labels]
    assert proba.iloc[-1].tolist() == one  # the scorer reads poisoned values as predict_one does
    state = model.get_state()
    assert state["features"]["n_nonfinite"] == n_bad
    for learner_state in state["transition"]["learners"]:
        assert np.isfinite(learner_state["weights"]).all()


def test_the_one_at_a_time_and_batch_paths_agree_on_poisoned_rows(yeast):
    X, Y, features, labels = yeast
    poisoned, _ = _poisoned(X[:400], 0.1, seed=2)
    one = IHOMER(labels=labels, features=features)
    batch = IHOMER(labels=labels, features=features)
    expected = np.zeros((400, len(labels)), dtype=bool)
    for i in range(400):
        x = dict(zip(features, poisoned[i].tolist()))
        expected[i] = list(one.predict_one(x).values())
        one.learn_one(x, dict(zip(labels, Y[i].tolist())))
    got = batch.predict_learn_many(poisoned, Y[:400], features)
    np.testing.assert_array_equal(got[1:], expected[1:])
    assert one.n_nonfinite == batch.n_nonfinite > 0


def test_raise_refuses_a_poisoned_row_and_names_the_feature():
    model = IHOMER(labels=["a"], nonfinite="raise")
    model.learn_one({"u": 1.0}, {"a": True})
    with pytest.raises(ValueError, match=r"\['v'\]"):
        model.learn_one({"u": 1.0, "v": math.inf}, {"a": False})
    with pytest.raises(ValueError, match="non-finite"):
        model.learn_many(np.array([[np.nan]]), np.array([[True]]), feature_names=["u"])
    assert model.n_instances == 1 and model.n_nonfinite == 0
    with pytest.raises(ValueError, match="nonfinite"):
        IHOMER(nonfinite="ignore")


def test_replay_of_a_file_with_nan_cells_reports_them(data_dir, tmp_path, capsys):
    with gzip.open(data_dir / "flags.arff.gz", "rt") as f:
        lines = f.read().splitlines()
    attributes = [line.split()[2] for line in lines if line.lower().startswith("@attribute")]
    numeric = [j for j, kind in enumerate(attributes[:19]) if kind.lower() == "numeric"]
    rng = np.random.default_rng(3)
    out, in_data, n_bad = [], False, 0
    for line in lines:
        if in_data and line.strip() and not line.startswith("%"):
            cells = line.split(",")
            for j in numeric:
                if rng.random() < 0.05:
                    cells[j], n_bad = "NaN", n_bad + 1
            line = ",".join(cells)
        in_data = in_data or line.lower().startswith("@data")
        out.append(line)
    path = tmp_path / "flags-nan.arff"
    path.write_text("\n".join(out) + "\n")
    report = tmp_path / "run.json"
    assert main(["replay", str(path), "--labels", "-7", "--quiet", "--out", str(report)]) == 0
    result = json.loads(report.read_text())
    assert result["n_nonfinite"] == n_bad > 0
    assert 0.6 < result["metrics"]["micro_f1"] <= 1.0
    assert "non-finite values left out" in capsys.readouterr().out
