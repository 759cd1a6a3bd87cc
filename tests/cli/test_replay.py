"""The replay command and the prequential runner against river's own evaluation."""

from __future__ import annotations

import json

import pytest
from river import linear_model, metrics, multioutput, preprocessing

from streamlabels.peers.baselines import DenseInputs, MajorityLabelSet, PreviousLabelSet
from streamlabels.cli import main
from streamlabels.evaluate import prequential
from streamlabels.state import seal
from streamlabels.streams import datasets


def _river_reference(stream, model, n=None):
    """river's documented test-then-train loop, scored with river's own metrics."""
    micro = metrics.multioutput.MicroAverage(metrics.F1())
    macro = metrics.multioutput.MacroAverage(metrics.F1())
    exact = metrics.multioutput.ExactMatch()
    for i, (x, y) in enumerate(stream):
        if n is not None and i >= n:
            break
        y_pred = model.predict_one(x)
        y_pred = {label: y_pred.get(label, False) for label in y}
        for metric in (micro, macro, exact):
            metric.update(y, y_pred)
        model.learn_one(x, y)
    return {"micro_f1": micro.get(), "macro_f1": macro.get(), "subset_accuracy": exact.get()}


def test_replay_yeast_br_lr_equals_river(data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STREAMLABELS_DATA", str(data_dir))
    out = tmp_path / "yeast.json"
    assert main(["replay", "yeast", "--model", "br-lr", "--quiet", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert "subset_accuracy" in capsys.readouterr().out

    river_model = multioutput.PerOutputClassifier(
        preprocessing.StandardScaler() | linear_model.LogisticRegression()
    )
    expected = _river_reference(datasets.load("yeast"), river_model)
    assert report["n_instances"] == 2417
    for key, value in expected.items():
        assert report["metrics"][key] == pytest.approx(value, abs=1e-12), key
    assert report["metrics"]["micro_f1"] == pytest.approx(0.593, abs=0.01)
    for key in ("seconds", "instances_per_second", "metrics", "history"):
        assert key in report


def test_river_evaluator_accepts_wrapped_baseline(data_dir):
    from river import evaluate

    stream = datasets.load("emotions")
    model = DenseInputs(
        multioutput.PerOutputClassifier(linear_model.LogisticRegression()),
        label_names=stream.label_names,
    )
    metric = metrics.multioutput.MicroAverage(metrics.F1())
    evaluate.progressive_val_score(stream, model, metric)
    ours = prequential(
        datasets.load("emotions"),
        DenseInputs(
            multioutput.PerOutputClassifier(linear_model.LogisticRegression()),
            label_names=stream.label_names,
        ),
        stream.label_names,
    )
    assert ours.metrics["micro_f1"] == pytest.approx(metric.get(), abs=1e-12)


def test_trivial_baselines_expose_sorted_files(data_dir):
    """scene is stored sorted by label set: repeating the previous set scores very high."""
    stream = datasets.load("scene")
    prev = prequential(stream, PreviousLabelSet(), stream.label_names)
    majority = prequential(stream, MajorityLabelSet(), stream.label_names)
    assert prev.metrics["micro_f1"] == pytest.approx(0.937, abs=0.01)
    assert majority.metrics["micro_f1"] < 0.4


def test_shuffle_is_a_fixed_permutation(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("STREAMLABELS_DATA", str(data_dir))
    results = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.json"
        main(["replay", "scene", "--model", "prev-ls", "--shuffle", "3", "--quiet",
              "--out", str(out)])
        results.append(json.loads(out.read_text()))
    assert results[0]["metrics"] == results[1]["metrics"]
    assert results[0]["order"] == "shuffled (seed 3)"
    assert results[0]["metrics"]["micro_f1"] < 0.5


def test_replay_default_stream_writes_plot(tmp_path):
    out, plot = tmp_path / "r.json", tmp_path / "r.png"
    code = main(["replay", "--model", "br-nb", "--n", "1500", "--quiet", "--out", str(out),
                 "--plot", str(plot)])
    assert code == 0
    report = json.loads(out.read_text())
    assert report["stream"] == "synthetic" and report["n_instances"] == 1500
    assert plot.stat().st_size > 10_000
    assert [point["n"] for point in report["history"]] == [500, 1000, 1500]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["replay", "no-such-set"], "no-such-set"),
        (["replay", "yeast", "--model", "nope"], "unknown model"),
        (["replay", "yeast", "--model", "prev-ls", "--target", "subset"], "'prev-ls' is not one"),
        (["replay", "yeast", "--model", "ihomer-routing", "--target", "subset"],
         "needs decision='experts'"),
    ],
)
def test_errors_are_one_line(argv, message, data_dir, monkeypatch, capsys):
    monkeypatch.setenv("STREAMLABELS_DATA", str(data_dir))
    assert main(argv + ["--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert err.count("\n") == 1


def test_ihomer_through_river_evaluate_matches_replay(data_dir, tmp_path, monkeypatch):
    from river import evaluate

    from streamlabels.ihomer import IHOMER

    monkeypatch.setenv("STREAMLABELS_DATA", str(data_dir))
    out = tmp_path / "flags.json"
    assert main(["replay", "flags", "--model", "ihomer", "--quiet", "--out", str(out)]) == 0
    metric = metrics.multioutput.MicroAverage(metrics.F1())
    labels = datasets.info("flags").label_names
    evaluate.progressive_val_score(datasets.load("flags"), IHOMER(labels=labels), metric)
    assert json.loads(out.read_text())["metrics"]["micro_f1"] == pytest.approx(metric.get(),
                                                                               abs=1e-12)


def test_malformed_arff_is_one_line_naming_file_and_line(tmp_path, capsys):
    path = tmp_path / "bad.arff"
    path.write_text("@relation 'bad: -C 1'\n@attribute y {0,1}\n@attribute f numeric\n"
                    "@data\n1,0.5\n0,oops\n")
    assert main(["replay", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "bad.arff:6" in err and err.count("\n") == 1


def test_steady_speed_leaves_out_the_first_window():
    from streamlabels.evaluate.prequential import PrequentialResult

    history = [
        {"n": 500, "seconds": 10.0},
        {"n": 1000, "seconds": 10.5},
        {"n": 1200, "seconds": 10.7},
    ]
    result = PrequentialResult(n_instances=1200, seconds=10.7, metrics={}, history=history)
    assert result.instances_per_second == pytest.approx(1200 / 10.7)
    assert result.steady_instances_per_second == pytest.approx(1000.0)
    assert result.warmup_seconds == pytest.approx(9.5)
    single = PrequentialResult(n_instances=9, seconds=1.0, metrics={}, history=history[:1])
    assert single.steady_instances_per_second is None and single.warmup_seconds is None


def test_demo_prints_steady_speed_apart_from_one_time_costs(tmp_path, capsys):
    out = tmp_path / "demo.json"
    assert main(["replay", "--n", "2000", "--quiet", "--out", str(out)]) == 0
    table = capsys.readouterr().out
    report = json.loads(out.read_text())
    assert f"{report['steady_instances_per_second']:,.0f}" in table
    assert "instances/s (steady: after window 1)" in table
    assert "one-time cost in window 1 (s)" in table and "one-time set-up before it (s)" in table
    first, last = report["history"][0], report["history"][-1]
    steady = (2000 - first["n"]) / (last["seconds"] - first["seconds"])
    assert report["steady_instances_per_second"] == pytest.approx(steady)
    assert report["warmup_seconds"] == pytest.approx(max(first["seconds"] - 500 / steady, 0))
    assert report["setup_seconds"] > 0


def test_an_unknown_label_is_named_with_the_labels_scored():
    stream = [({}, {"a": True, "b": False}), ({}, {"c": True})]
    with pytest.raises(ValueError, match=r"instance 2: the stream gives label 'c'.*\['a', 'b'\]"):
        prequential(stream, PreviousLabelSet(), ["a", "b"])


def test_replay_names_the_labels_never_predicted(data_dir, tmp_path, monkeypatch, capsys):
    """The majority label set of yeast holds 4 of its 14 labels; the others score 0 with a hint."""
    monkeypatch.setenv("STREAMLABELS_DATA", str(data_dir))
    out = tmp_path / "majority.json"
    assert main(["replay", "yeast", "--model", "majority-ls", "--n", "500", "--quiet",
                 "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    never = [row["label"] for row in report["per_label"] if row["tp"] + row["fp"] == 0]
    assert report["labels_never_predicted"] == never and 5 <= len(never) < 14
    assert "labels never predicted: " + ", ".join(never) in capsys.readouterr().out


def _replay_json(tmp_path, name, *argv):
    out = tmp_path / f"{name}.json"
    assert main(["replay", *argv, "--quiet", "--out", str(out)]) == 0
    return json.loads(out.read_text())


def test_replay_saved_then_resumed_equals_one_uninterrupted_run(data_dir, tmp_path, monkeypatch):
    """900 is not a multiple of the window: the resumed run starts mid-window."""
    monkeypatch.setenv("STREAMLABELS_DATA", str(data_dir))
    ckpt = tmp_path / "m.ckpt"
    whole = _replay_json(tmp_path, "whole", "yeast", "--window", "200")
    (tmp_path / ".m.ckpt.x7k2.tmp").write_bytes(b"torn")  # left by a replay killed while saving
    first = _replay_json(tmp_path, "first", "yeast", "--window", "200", "--n", "900",
                         "--save", str(ckpt))
    rest = _replay_json(tmp_path, "rest", "yeast", "--window", "200", "--resume", str(ckpt))
    assert first["n_instances"] == 900 and rest["resumed_from"] == 900
    assert rest["n_instances"] == 2417 - 900
    assert rest["metrics"] == whole["metrics"]  # bit for bit
    assert rest["per_label"] == whole["per_label"]
    assert first["metrics"] != whole["metrics"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_ranking_metrics_survive_a_resume_and_equal_the_batched_predictions(
    data_dir, tmp_path, monkeypatch
):
    monkeypatch.setenv("STREAMLABELS_DATA", str(data_dir))
    ckpt = tmp_path / "m.ckpt"
    batched = _replay_json(tmp_path, "batched", "emotions")
    whole = _replay_json(tmp_path, "whole", "emotions", "--ranking")
    _replay_json(tmp_path, "first", "emotions", "--ranking", "--n", "250", "--save", str(ckpt))
    rest = _replay_json(tmp_path, "rest", "emotions", "--ranking", "--resume", str(ckpt))
    assert rest["metrics"] == whole["metrics"]
    assert {k: whole["metrics"][k] for k in batched["metrics"]} == batched["metrics"]
    assert 0 < whole["metrics"]["ranking_loss"] < 0.5 and whole["metrics"]["coverage"] > 1


def test_calibration_is_reported_by_default_for_ihomer_and_survives_a_resume(
    data_dir, tmp_path, monkeypatch, capsys
):
    """250 is not a multiple of the window: the resumed run starts mid-window, and the Brier and
    ECE sums still add up bit for bit. The scores iHOMER gives with its predictions change no
    prediction: the other metrics are those of a replay without calibration."""
    monkeypatch.setenv("STREAMLABELS_DATA", str(data_dir))
    ckpt = tmp_path / "m.ckpt"
    whole = _replay_json(tmp_path, "whole", "emotions")
    assert "brier" in capsys.readouterr().out
    _replay_json(tmp_path, "first", "emotions", "--n", "250", "--save", str(ckpt))
    rest = _replay_json(tmp_path, "rest", "emotions", "--resume", str(ckpt))
    assert rest["metrics"] == whole["metrics"] and rest["reliability"] == whole["reliability"]
    assert 0.1 < whole["metrics"]["brier"] < 0.25 and 0 < whole["metrics"]["ece"] < 0.1
    assert sum(row["count"] for row in whole["reliability"]) == 593 * 6
    ranked = _replay_json(tmp_path, "ranked", "emotions", "--ranking")
    assert {k: ranked["metrics"][k] for k in whole["metrics"]} == whole["metrics"]


def test_calibration_of_other_models_is_asked_for(data_dir, tmp_path, monkeypatch):
    """prev-ls answers 0/1 probabilities: its Brier score and ECE are its Hamming loss."""
    monkeypatch.setenv("STREAMLABELS_DATA", str(data_dir))
    plain = _replay_json(tmp_path, "plain", "emotions", "--model", "prev-ls")
    asked = _replay_json(tmp_path, "asked", "emotions", "--model", "prev-ls", "--calibration")
    assert "brier" not in plain["metrics"] and plain["reliability"] == []
    hamming = asked["metrics"]["hamming_loss"]
    assert asked["metrics"]["brier"] == pytest.approx(hamming, abs=1e-12) and hamming > 0.2
    assert asked["metrics"]["ece"] == pytest.approx(hamming, abs=1e-12)
    assert {k: asked["metrics"][k] for k in plain["metrics"]} == plain["metrics"]
    naive = _replay_json(tmp_path, "naive", "yeast", "--model", "br-nb", "--n", "300",
                         "--calibration")  # river's naive Bayes leaves out P(True) at first
    assert 0 < naive["metrics"]["brier"] < 0.5


def test_replay_target_decides_as_the_model_with_that_target(data_dir, tmp_path, monkeypatch):
    """``--target`` is IHOMER's ``target``: the same metrics as river's loop over that model;
    a resume goes on with the saved model's target and refuses another."""
    from streamlabels.ihomer import IHOMER

    monkeypatch.setenv("STREAMLABELS_DATA", str(data_dir))
    report = _replay_json(tmp_path, "subset", "emotions", "--target", "subset")
    assert report["target"] == "subset"
    stream = datasets.load("emotions")
    model = IHOMER(labels=stream.label_names, features=stream.feature_names, target="subset")
    expected = _river_reference(stream, model)
    for metric, value in expected.items():
        assert report["metrics"][metric] == pytest.approx(value, abs=1e-12)
    ckpt = tmp_path / "m.ckpt"
    _replay_json(tmp_path, "first", "emotions", "--target", "subset", "--n", "250",
                 "--save", str(ckpt))
    rest = _replay_json(tmp_path, "rest", "emotions", "--target", "subset", "--resume",
                        str(ckpt))
    assert rest["metrics"] == report["metrics"]
    assert main(["replay", "emotions", "--resume", str(ckpt), "--quiet"]) == 2


def test_resume_refuses_a_damaged_or_foreign_checkpoint(data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STREAMLABELS_DATA", str(data_dir))
    ckpt = tmp_path / "m.ckpt"
    _replay_json(tmp_path, "first", "flags", "--n", "100", "--save", str(ckpt))
    capsys.readouterr()
    assert main(["replay", "emotions", "--resume", str(ckpt), "--quiet"]) == 2
    assert "another stream ('flags')" in capsys.readouterr().err
    assert main(["replay", "flags", "--model", "ihomer-routing", "--resume", str(ckpt),
                 "--quiet"]) == 2
    assert "another model ('ihomer')" in capsys.readouterr().err
    damaged = bytearray(ckpt.read_bytes())
    damaged[len(damaged) // 2] ^= 1
    ckpt.write_bytes(bytes(damaged))
    assert main(["replay", "flags", "--resume", str(ckpt), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "m.ckpt: cannot resume from it" in err and "checksum" in err
    ckpt.write_bytes(seal("streamlabels.IHOMER", 3, {}))
    assert main(["replay", "flags", "--resume", str(ckpt), "--quiet"]) == 2
    assert "not a streamlabels.replay state: its kind is 'streamlabels.IHOMER'" in (
        capsys.readouterr().err
    )
    ckpt.write_bytes(seal("streamlabels.replay", 2, {}))
    assert main(["replay", "flags", "--resume", str(ckpt), "--quiet"]) == 2
    assert "version 2: this streamlabels reads versions 1" in capsys.readouterr().err
    assert main(["replay", "flags", "--model", "prev-ls", "--save", str(ckpt), "--quiet"]) == 2
    assert "--save needs a model that can be checkpointed" in capsys.readouterr().err


def test_save_refuses_ihomer_over_a_river_learner_before_replaying(data_dir, monkeypatch, capsys,
                                                                   tmp_path):
    monkeypatch.setenv("STREAMLABELS_DATA", str(data_dir))
    ckpt = tmp_path / "m.ckpt"
    assert main(["replay", "flags", "--model", "ihomer-ht", "--save", str(ckpt), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "'ihomer-ht' cannot" in err and "pickle" in err and not ckpt.exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["replay", "yeast", "--n", "-5"], "--n must be a positive whole number, got -5"),
        (["replay", "yeast", "--n", "0"], "--n must be a positive whole number, got 0"),
        (["replay", "yeast", "--window", "0"], "--window must be a positive whole number, got 0"),
        (["bench", "yeast", "--models", "ihomer", "--n", "-5"], "--n must be a positive whole"),
        (["bench", "yeast", "--models", "ihomer", "--n", "0"], "--n must be a positive whole"),
    ],
)
def test_counts_below_one_are_refused_in_one_line_before_any_work(argv, message, monkeypatch,
                                                                   capsys):
    def no_work(*args, **kwargs):
        raise AssertionError("the stream was opened before the options were checked")

    monkeypatch.setattr(datasets, "load", no_work)
    assert main(argv + ["--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"streamlabels: error: {message}")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_replay_refuses_features_read_as_labels_naming_file_and_column(tmp_path, capsys):
    """Six labels last, but --labels -8: the features 'loud' and 'calm' would be read as labels;
    'calm' holds 0.25 on line 14."""
    path = tmp_path / "six.arff"
    path.write_text(
        "@relation six\n@attribute f1 numeric\n@attribute f2 numeric\n@attribute loud numeric\n"
        "@attribute calm numeric\n"
        + "".join(f"@attribute L{k} {{0,1}}\n" for k in range(6))
        + "@data\n1.5,2,0,1,1,0,0,1,0,0\n3,4,1,0.25,0,1,1,0,0,1\n"
    )
    assert main(["replay", str(path), "--labels", "-6", "--quiet"]) == 0
    capsys.readouterr()
    for model in ("ihomer", "br-nb"):  # array blocks, then dicts
        assert main(["replay", str(path), "--labels", "-8", "--model", model, "--quiet"]) == 2
        err = capsys.readouterr().err
        assert f"{path}:14: label 'calm' has value '0.25'" in err and "label specification" in err
        assert err.count("\n") == 1
