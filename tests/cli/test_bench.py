"""The bench command, and the MOA peer it can run beside our models."""

from __future__ import annotations

import importlib
import itertools
import json

import pytest

from streamlabels.cli.bench import bench_model, load_instances, parse_models
from streamlabels.cli.models import make_model
from streamlabels.cli import main
from streamlabels.evaluate import prequential
from streamlabels.peers.moa import moa_unavailable_reason
from streamlabels.streams import datasets

REQUIRED_METRICS = ("micro_f1", "subset_accuracy", "macro_f1", "hamming_loss")


def test_bench_writes_every_measure_and_matches_prequential(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("STREAMLABELS_DATA", str(data_dir))
    out = tmp_path / "bench.json"
    argv = ["bench", "yeast", "--models", "ihomer,majority-ls:120", "--n", "300", "--quiet"]
    assert main([*argv, "--tracemalloc", "--out", str(out)]) == 0
    report = json.loads(out.read_text())

    assert report["n"] == 300 and report["n_instances"] == 300
    assert report["numba_cache"]["state"] in ("warm", "cold")
    assert [m["model"] for m in report["models"]] == ["ihomer", "majority-ls"]
    assert report["models"][1]["numba"]["compilations"] == 0  # a pure-Python baseline
    stream = datasets.load("yeast")
    for result in report["models"]:
        n = result["cap"] or 300
        assert result["n_instances"] == n
        assert result["instances_per_second"] > 0 and result["seconds"] > 0
        assert result["warmup_s"] is not None and result["steady_us_per_instance"] > 0
        assert result["steady_instances_per_second"] == pytest.approx(
            1e6 / result["steady_us_per_instance"])
        assert result["memory"]["tracemalloc_peak_mb"] > 0
        model = make_model(result["model"], stream.feature_names, stream.label_names)
        expected = prequential(itertools.islice(stream, n), model, stream.label_names).metrics
        for key in REQUIRED_METRICS:
            assert result["metrics"][key] == pytest.approx(expected[key], abs=1e-12), key
    first, second = report["models"]
    assert first["ratio_vs_first"]["instances_per_second"] == 1.0
    for key in ("instances_per_second", "steady_instances_per_second"):
        assert first["ratio_vs_first"][key] == 1.0
        assert second["ratio_vs_first"][key] == pytest.approx(second[key] / first[key])


@pytest.mark.parametrize(
    "name, windows",
    [
        ("ihomer", [490, 990, 1190]),  # array blocks: windows keep to the stream's 500s
        ("majority-ls", [500, 1000, 1190]),  # dicts: windows of 500 from where the leg starts
    ],
)
def test_bench_times_the_loop_of_prequential(data_dir, monkeypatch, name, windows):
    """One loop: bench's marks and metrics are those of prequential's three legs (the first
    instance, the rest of the warm-up, the rest in windows of 500), resumed from each other."""
    loop = importlib.import_module("streamlabels.evaluate.prequential")  # not the function
    real, legs = loop.prequential, []

    def recording(stream, model, labels, **options):
        legs.append((options["n"], options["window"], real(stream, model, labels, **options)))
        return legs[-1][2]

    monkeypatch.setattr(loop, "prequential", recording)
    stream = datasets.load("yeast")
    data, _ = load_instances(stream, 1200)
    result = bench_model(name, data, stream.feature_names, stream.label_names)

    assert [(n, window) for n, window, _ in legs] == [(1, 1), (10, 9), (None, 500)]
    first, warm, rest = (leg for _, _, leg in legs)
    assert [leg.n_instances for leg in (first, warm, rest)] == [1, 9, 1190]
    assert [point["n"] for point in rest.history] == windows
    assert result["seconds"] == first.seconds + warm.seconds + rest.seconds
    assert result["first_instance_s"] == first.seconds
    assert result["steady_us_per_instance"] == pytest.approx(rest.seconds / 1190 * 1e6)
    assert result["warmup_s"] == pytest.approx(first.seconds + warm.seconds - 10 * rest.seconds
                                               / 1190)
    assert result["metrics"] == rest.metrics
    model = make_model(name, stream.feature_names, stream.label_names)
    whole = real(itertools.islice(stream, 1200), model, stream.label_names).metrics
    for key in REQUIRED_METRICS:
        assert result["metrics"][key] == pytest.approx(whole[key], abs=1e-12), key


def test_bench_rejects_unknown_models_in_one_line(data_dir, monkeypatch, capsys):
    monkeypatch.setenv("STREAMLABELS_DATA", str(data_dir))
    assert main(["bench", "flags", "--models", "ihomer,nope", "--quiet"]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err


def test_model_caps_parse():
    assert parse_models("ihomer,moa-mlht:500") == [("ihomer", None), ("moa-mlht", 500)]
    with pytest.raises(ValueError, match="positive integer"):
        parse_models("ihomer:x")


@pytest.fixture
def moa():
    reason = moa_unavailable_reason()
    if reason:
        pytest.skip(f"MOA peer cannot run here: {reason}")


@pytest.mark.parametrize("name", ["moa-mlht", "moa-mlht-sparse"])
def test_moa_tree_predicts_every_label_and_learns(moa, data_dir, monkeypatch, name):
    monkeypatch.setenv("STREAMLABELS_DATA", str(data_dir))
    stream = datasets.load("yeast")
    instances = list(itertools.islice(stream, 500))
    model = make_model(name, stream.feature_names, stream.label_names)

    x, y = instances[0]
    assert model.predict_one(x) == dict.fromkeys(stream.label_names, False)  # before any learning
    result = prequential(instances, model, stream.label_names)
    assert set(model.predict_one(x)) == set(stream.label_names)
    proba = model.predict_proba_one(x)
    assert all(0.0 <= p[True] <= 1.0 for p in proba.values())
    assert result.metrics["micro_f1"] > 0.3  # the empty prediction scores 0
    assert model.model_size()["model training instances"] == 500


def test_moa_dense_and_sparse_rows_predict_alike(moa, data_dir, monkeypatch):
    monkeypatch.setenv("STREAMLABELS_DATA", str(data_dir))
    stream = datasets.load("medical")  # sparse file
    instances = list(itertools.islice(stream, 150))
    results = [
        prequential(instances, make_model(name, stream.feature_names, stream.label_names),
                    stream.label_names).metrics
        for name in ("moa-mlht", "moa-mlht-sparse")
    ]
    assert results[0] == results[1]
