"""`streamlabels models`, and the model checks bench and replay make before running anything."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from streamlabels.cli import main
from streamlabels.cli.models import IHOMER_VARIANTS, catalogue, make_model
from streamlabels.peers import PEERS
from streamlabels.peers.baselines import BASELINES
from streamlabels.streams import datasets


def _listing(capsys) -> dict[str, str]:
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["model", "here", "family", "what", "it", "is"]
    return {line.split()[0]: line for line in lines[1:]}


@pytest.fixture
def no_capymoa(monkeypatch):
    find_spec = importlib.util.find_spec

    def without_capymoa(name, *args, **kwargs):
        return None if name == "capymoa" else find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", without_capymoa)


@pytest.fixture
def no_skmf(monkeypatch, tmp_path):
    monkeypatch.setenv("STREAMLABELS_SKMF_PYTHON", str(tmp_path / "no-python"))


@pytest.fixture
def nothing_runs(monkeypatch):
    """Fail the test if a command opens its stream: the checks must come first."""

    def no_work(*args, **kwargs):
        raise AssertionError("the stream was opened before the models were checked")

    monkeypatch.setattr(datasets, "load", no_work)


def test_models_lists_every_name_once_with_its_family(capsys, no_skmf):
    listed = _listing(capsys)
    assert list(listed) == [*IHOMER_VARIANTS, *BASELINES, *PEERS]
    assert {"prev-ls", "majority-ls", "br-lr", "moa-mlht", "skmf-lc-ht", "ihomer-routing"} <= set(
        listed
    )
    assert listed["ihomer"].split()[1:3] == ["yes", "iHOMER"]
    assert listed["br-lr"].split()[1:4] == ["yes", "river", "baseline"]
    assert listed["prev-ls"].split()[1:4] == ["yes", "trivial", "baseline"]
    assert listed["skmf-br-nb"].split()[1:4] == ["no", "scikit-multiflow", "peer"]
    assert "make skmf-env" in listed["skmf-br-nb"] and "make skmf-env" not in listed["ihomer"]


def test_models_says_what_installs_a_missing_requirement(capsys, monkeypatch, no_capymoa):
    monkeypatch.setenv("STREAMLABELS_SKMF_PYTHON", sys.executable)  # an interpreter exists
    listed = _listing(capsys)
    for name in ("moa-mlht", "moa-mlht-sparse"):
        assert listed[name].split()[1] == "no"
        assert 'the MOA peer needs capymoa: pip install "streamlabels[moa]"' in listed[name]
    assert all(listed[f"skmf-{m}"].split()[1] == "yes" for m in ("br-ht", "lc-ht"))


def test_models_without_java_says_so(capsys, monkeypatch):
    if importlib.util.find_spec("capymoa") is None or importlib.util.find_spec("jpype") is None:
        pytest.skip("capymoa is not installed here: the Java check comes after it")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", "")
    listed = _listing(capsys)
    assert listed["moa-mlht"].split()[1] == "no" and "no Java runtime" in listed["moa-mlht"]


def test_models_imports_no_model_library():
    """The listing looks names up; it must not import numba, scipy, river's models or a JVM."""
    heavy = ["numba", "scipy", "sklearn", "river.tree", "river.linear_model", "capymoa", "jpype",
             "streamlabels.ihomer", "streamlabels.peers.moa", "streamlabels.peers.skmf"]
    code = (
        "import contextlib, io, json, sys\n"
        "from streamlabels.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    code = main(['models'])\n"
        f"print(json.dumps([code, [m for m in {heavy!r} if m in sys.modules]]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == [0, []]


def test_bench_refuses_an_unavailable_model_before_running_any(
    capsys, monkeypatch, no_skmf, nothing_runs
):
    assert main(["bench", "yeast", "--models", "ihomer,skmf-br-ht", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "model 'skmf-br-ht' cannot run without it" in err and "make skmf-env" in err


def test_bench_refuses_an_unknown_model_before_running_any(capsys, nothing_runs):
    assert main(["bench", "yeast", "--models", "ihomer,prev-ls,majority_ls", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "streamlabels: error: unknown model 'majority_ls' (did you mean 'majority-ls'?); "
        "`streamlabels models` lists them all\n"
    )


def test_replay_refuses_an_unavailable_model_naming_the_extra(capsys, no_capymoa, nothing_runs):
    assert main(["replay", "yeast", "--model", "moa-mlht", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err == (
        'the MOA peer needs capymoa: pip install "streamlabels[moa]"; '
        "model 'moa-mlht' cannot run without it\n"
    )


@pytest.mark.parametrize("name", [*IHOMER_VARIANTS, *BASELINES])
def test_every_model_needing_nothing_builds_and_answers_for_every_label(name):
    assert catalogue()[name].missing() is None
    model = make_model(name, ["f", "g"], ["a", "b", "c"], seed=1)
    x = {"f": 1.0, "g": 0.0}
    model.learn_one(x, {"a": True, "b": False, "c": True})
    assert set(model.predict_one(x)) == {"a", "b", "c"}


def test_the_command_line_names_every_decision_target():
    from streamlabels.cli.models import TARGETS
    from streamlabels.kernels.targets import TARGET_NAMES

    assert TARGETS == TARGET_NAMES
