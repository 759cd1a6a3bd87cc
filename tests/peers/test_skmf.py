"""scikit-multiflow peers: run in their own interpreter, fed batches over a pipe."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from streamlabels.cli import main
from streamlabels.cli.models import make_model
from streamlabels.peers.skmf import ScikitMultiflowModel, SkmfUnavailableError
from streamlabels.streams import datasets
from streamlabels.streams.arrays import ArrayStream

ROOT = Path(__file__).resolve().parents[2]


def test_missing_environment_says_to_run_make_skmf_env(monkeypatch, tmp_path):
    monkeypatch.setenv("STREAMLABELS_SKMF_PYTHON", str(tmp_path / "no-python"))
    with pytest.raises(SkmfUnavailableError, match=r"not found .*no-python.*make skmf-env"):
        make_model("skmf-br-ht", ["a"], ["x", "y"])


def test_missing_environment_is_one_clear_line_from_the_command(
    data_dir, monkeypatch, tmp_path, capsys
):
    monkeypatch.setenv("STREAMLABELS_SKMF_PYTHON", str(tmp_path / "no-python"))
    assert main(["bench", "flags", "--models", "skmf-lc-ht", "--quiet"]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("scikit-multiflow environment not found")


def test_interpreter_without_scikit_multiflow_reports_the_worker_error(monkeypatch):
    monkeypatch.setenv("STREAMLABELS_SKMF_PYTHON", sys.executable)
    with pytest.raises(SkmfUnavailableError) as err:
        ScikitMultiflowModel("br-nb", ["a"], ["x"])
    assert "No module named 'skmultiflow'" in str(err.value)
    assert sys.executable in str(err.value) and "Traceback" not in str(err.value)
    assert "skmf_worker.py" in err.value.worker_traceback


def test_unknown_model_is_refused_before_any_process_starts(monkeypatch, tmp_path):
    monkeypatch.setenv("STREAMLABELS_SKMF_PYTHON", str(tmp_path / "no-python"))
    with pytest.raises(ValueError, match="unknown scikit-multiflow model 'br-svm'; known: br-ht"):
        ScikitMultiflowModel("br-svm", ["a"], ["x"])


@pytest.fixture(scope="module")
def skmf_env():
    """The real scikit-multiflow interpreter, built with `make skmf-env` if missing (minutes)."""
    python = ROOT / ".skmf-venv/bin/python"
    if not python.is_file():
        subprocess.run(["make", "-C", str(ROOT), "skmf-env"], check=True)
    return python


@pytest.mark.slow
@pytest.mark.parametrize("name", ["br-ht", "br-nb", "lc-ht", "cc-sgd"])
def test_batches_give_the_same_predictions_as_one_row_at_a_time(
    skmf_env, data_dir, monkeypatch, name
):
    monkeypatch.setenv("STREAMLABELS_SKMF_PYTHON", str(skmf_env))
    data = ArrayStream.read(datasets.load(data_dir / "emotions.arff.gz", labels=-6))
    X, Y = data.X[:300], data.Y[:300]
    batched = ScikitMultiflowModel(name, data.feature_names, data.label_names, seed=3)
    guesses = np.vstack([
        batched.predict_learn_many(X[i : i + 100], Y[i : i + 100], data.feature_names)
        for i in range(0, 300, 100)
    ])
    single = ScikitMultiflowModel(name, data.feature_names, data.label_names, seed=3)
    one_by_one = []
    for (x, y), _ in zip(data, range(300)):
        guess = single.predict_one(x)
        one_by_one.append([guess[label] for label in data.label_names])
        single.learn_one(x, y)
    np.testing.assert_array_equal(guesses, np.array(one_by_one))
    assert guesses[0].sum() == 0 and guesses[50:].any()  # cold start, then it learns
    assert batched.model_size()["worker peak RSS (MB)"] > 10


@pytest.mark.slow
def test_bench_prints_skmf_beside_ihomer_in_one_table(skmf_env, data_dir, monkeypatch, capsys):
    monkeypatch.setenv("STREAMLABELS_SKMF_PYTHON", str(skmf_env))
    models = "ihomer,skmf-br-ht,skmf-lc-ht"
    assert main(["bench", "yeast", "--models", models, "--n", "400", "--quiet"]) == 0
    table = capsys.readouterr().out
    rows = [line for line in table.splitlines() if line.startswith("│")]
    assert [row.split()[1] for row in rows] == models.split(",")


@pytest.mark.slow
def test_replay_scores_skmf_as_bench_does(skmf_env, data_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("STREAMLABELS_SKMF_PYTHON", str(skmf_env))
    monkeypatch.setenv("STREAMLABELS_DATA", str(data_dir))
    replayed, benched = tmp_path / "replay.json", tmp_path / "bench.json"
    args = ["emotions", "--quiet", "--out"]
    assert main(["replay", *args, str(replayed), "--model", "skmf-lc-ht"]) == 0
    assert main(["bench", *args, str(benched), "--models", "skmf-lc-ht"]) == 0
    replay = json.loads(replayed.read_text())
    (bench,) = json.loads(benched.read_text())["models"]
    assert replay["n_instances"] == bench["n_instances"] == 593
    for key, value in bench["metrics"].items():
        assert replay["metrics"][key] == pytest.approx(value, abs=1e-12), key
