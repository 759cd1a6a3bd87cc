"""The pictures draw what they claim (bars, lines, markers, axis labels); `report` writes PNGs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle

from streamlabels.cli import main
from streamlabels.evaluate.plots import (
    cooccurrence,
    plot_comparison,
    plot_cooccurrence,
    plot_history,
    plot_per_label,
    plot_throughput,
)

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _labelled(ax) -> None:
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()


def _run(dataset, model, order, micro_f1, speed, status="ok"):
    row = {"dataset": dataset, "model": model, "order": order, "status": status}
    if status == "ok":
        row.update(instances_per_second=speed,
                   metrics={"micro_f1": micro_f1, "hamming_loss": 1 - micro_f1})
    return row


RUNS = [
    _run(d, m, o, f, s)
    for d in ("yeast", "scene")
    for o in ("file", "shuffled")
    for m, f, s in (("prev-ls", 0.45, 12_000.0), ("br-lr", 0.59, 600.0), ("ihomer", 0.60, 1_700.0))
] + [_run("enron", "br-lr", "file", 0, 0, status="not finished in 400 s"),
     _run("enron", "ihomer", "file", 0.54, 2_300.0)]


def _history(n=2_000, window=200):
    return [
        {"n": t, "seconds": t / 1000, "micro_f1": 0.5, "window_micro_f1": 0.6,
         "window_subset_accuracy": 0.3, "window_hamming_loss": 0.1}
        for t in range(window, n + 1, window)
    ]


def test_history_marks_drift_and_commit_across_and_tree_changes_on_top():
    events = [{"t": 300, "kind": "split"}, {"t": 500, "kind": "commit"},
              {"t": 900, "kind": "split"}, {"t": 1_000, "kind": "drift"},
              {"t": 1_200, "kind": "merge"}, {"t": 1_400, "kind": "commit"},
              {"t": 1_500, "kind": "special"}]
    fig = plot_history(_history(), "synthetic", events)
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()
             if not line.get_label().startswith("_")}
    assert {"micro-F1 (window)", "subset accuracy (window)", "Hamming loss (window)",
            "micro-F1 (cumulative)"} <= set(lines)
    verticals = [line for line in ax.get_lines() if len(set(line.get_xdata())) == 1
                 and len(line.get_xdata()) == 2]
    assert sorted(line.get_xdata()[0] for line in verticals) == [500, 1_000, 1_400, 1_500]
    assert list(lines["label tree split"].get_xdata()) == [300, 900]
    assert list(lines["label tree merge"].get_xdata()) == [1_200]
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend.count("restructure (partition committed)") == 1
    assert "drift detected (tree reset)" in legend and "special" in legend
    assert ax.get_title() == "synthetic" and "200 instances" in ax.get_ylabel()
    _labelled(ax)


def test_history_without_events_has_only_the_metric_lines():
    ax = plot_history(_history()).axes[0]
    assert len(ax.get_lines()) == 4
    _labelled(ax)


def test_cooccurrence_is_jaccard_and_symmetric():
    rng = np.random.default_rng(0)
    Y = rng.random((300, 5)) < 0.3
    J = cooccurrence(Y)
    i, j = 1, 3
    assert J[i, j] == pytest.approx((Y[:, i] & Y[:, j]).sum() / (Y[:, i] | Y[:, j]).sum())
    assert np.allclose(J, J.T) and np.allclose(np.diag(J), 1.0)


def test_cooccurrence_heatmap_orders_by_group_and_outlines_each():
    Y = np.array([[1, 0, 1, 0], [1, 0, 1, 0], [0, 1, 0, 1], [0, 0, 0, 1]])
    names = ["a", "b", "c", "d"]
    fig = plot_cooccurrence(Y, names, groups=[["c", "a"], ["d"]])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["c", "a", "d", "b"]
    outlines = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert [(p.get_xy(), p.get_width()) for p in outlines] == [((-0.5, -0.5), 2), ((1.5, 1.5), 1)]
    image = ax.get_images()[0].get_array()
    assert image[0, 1] == 1.0 and image[0, 2] == 0.0  # c and a always together, never with d
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel().startswith("Jaccard")
    _labelled(ax)


def test_cooccurrence_heatmap_rejects_a_wrong_label_count():
    with pytest.raises(ValueError, match="3 label columns for 2 names"):
        plot_cooccurrence(np.zeros((4, 3)), ["a", "b"])


def test_comparison_has_a_bar_per_finished_run_in_each_order():
    fig = plot_comparison(RUNS, metric="micro_f1")
    file_ax, shuffled_ax = fig.axes
    assert len(file_ax.patches) == 7 and len(shuffled_ax.patches) == 6
    assert sorted(round(p.get_height(), 2) for p in shuffled_ax.patches) == [0.45] * 2 + [
        0.59] * 2 + [0.6] * 2
    assert [t.get_text() for t in shuffled_ax.get_xticklabels()] == ["yeast", "scene", "enron"]
    assert "file" in file_ax.get_title() and "shuffled" in shuffled_ax.get_title()
    assert "higher is better" in file_ax.get_ylabel()
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["ihomer", "br-lr", "prev-ls", "not finished"]
    crosses = [line for line in file_ax.get_lines() if line.get_marker() == "x"]
    assert len(crosses) == 1
    assert shuffled_ax.get_xlabel() == "dataset"


def test_comparison_of_a_loss_says_lower_is_better_and_rejects_unknown_metrics():
    fig = plot_comparison(RUNS, metric="hamming_loss")
    assert "lower is better" in fig.axes[0].get_ylabel()
    with pytest.raises(ValueError, match="unknown metric 'f2'"):
        plot_comparison(RUNS, metric="f2")


def test_throughput_is_log_scaled_bars_of_one_order():
    ax = plot_throughput(RUNS, order="shuffled").axes[0]
    assert ax.get_yscale() == "log"
    assert sorted(p.get_height() for p in ax.patches) == [600.0] * 2 + [1_700.0] * 2 + [
        12_000.0] * 2
    assert "instances per second" in ax.get_ylabel()
    _labelled(ax)


def test_per_label_shows_the_most_frequent_labels_first():
    per_label = [{"label": f"l{i}", "support": i, "precision": 0.5, "recall": 0.4, "f1": 0.45}
                 for i in range(50)]
    ax = plot_per_label(per_label, top=10).axes[0]
    assert len(ax.patches) == 10
    assert ax.get_yticklabels()[0].get_text() == "l49 (49)"
    assert "10 most frequent of 50" in ax.get_title()
    _labelled(ax)


def test_report_draws_a_replay(tmp_path, capsys):
    results = tmp_path / "synthetic.json"
    assert main(["replay", "--model", "prev-ls", "--n", "1200", "--window", "200", "--quiet",
                 "--out", str(results)]) == 0
    capsys.readouterr()
    assert main(["report", str(results), "--out", str(tmp_path / "pictures")]) == 0
    printed = capsys.readouterr().out.split()
    assert [p.rsplit("/", 1)[1] for p in printed] == [
        "synthetic-history.png", "synthetic-per-label.png"]
    for path in printed:
        data = Path(path).read_bytes()
        assert data.startswith(PNG) and len(data) > 10_000


def test_report_draws_an_accuracy_table(tmp_path, capsys):
    results = tmp_path / "accuracy.json"
    results.write_text(json.dumps({"shuffle_seed": 1, "runs": RUNS}))
    assert main(["report", str(results), "--out", str(tmp_path), "--metric", "hamming_loss"]) == 0
    printed = capsys.readouterr().out.split()
    assert [p.rsplit("/", 1)[1] for p in printed] == [
        "accuracy-hamming_loss.png", "accuracy-throughput.png"]
    for path in printed:
        image = plt.imread(path)
        assert image.shape[0] > 300 and image.shape[1] > 800


def test_report_refuses_other_json_in_one_line(tmp_path, capsys):
    results = tmp_path / "other.json"
    results.write_text(json.dumps({"hello": 1}))
    assert main(["report", str(results), "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("streamlabels: error:") and "neither" in error
    assert not list(tmp_path.glob("*.png"))


def test_report_draws_two_replays_side_by_side_in_one_png(tmp_path, capsys):
    runs = []
    for model in ("prev-ls", "majority-ls"):
        runs.append(tmp_path / f"{model}.json")
        assert main(["replay", "--model", model, "--n", "1000", "--window", "250", "--quiet",
                     "--out", str(runs[-1])]) == 0
    capsys.readouterr()
    picture = tmp_path / "cmp.png"
    assert main(["report", *map(str, runs), "--out", str(picture)]) == 0
    assert capsys.readouterr().out.split() == [str(picture)]
    image = plt.imread(picture)
    assert image.shape[0] > 500 and image.shape[1] > 800

    from streamlabels.evaluate.plots import plot_histories

    reports = [json.loads(path.read_text()) for path in runs]
    fig = plot_histories(reports)
    assert len(fig.axes) == 3
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["prev-ls", "majority-ls"]
    assert fig.axes[0].get_lines()[1].get_ydata().tolist() == [
        point["window_micro_f1"] for point in reports[1]["history"]]
    assert "synthetic" in fig.axes[0].get_title()


def test_report_draws_a_bench_as_bars_per_model(data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STREAMLABELS_DATA", str(data_dir))
    bench = tmp_path / "bench.json"
    assert main(["bench", "flags", "--models", "prev-ls,majority-ls,br-nb", "--quiet",
                 "--out", str(bench)]) == 0
    capsys.readouterr()
    assert main(["report", str(bench), "--out", str(tmp_path / "pictures")]) == 0
    printed = capsys.readouterr().out.split()
    assert [p.rsplit("/", 1)[1] for p in printed] == ["bench-micro_f1.png", "bench-throughput.png"]
    assert all(Path(p).read_bytes().startswith(PNG) for p in printed)

    from streamlabels.cli.report import comparison_rows

    report = json.loads(bench.read_text())
    ax = plot_comparison(comparison_rows(report, "bench")).axes[0]
    heights = sorted(round(p.get_height(), 12) for p in ax.patches)
    assert heights == sorted(round(m["metrics"]["micro_f1"], 12) for m in report["models"])
