"""The docs site builds in strict mode, as ``make docs`` builds it: any warning fails the build,
a broken reference among them.

The site holds the guides of docs/, the metrics' definitions and the API reference (both from
the docstrings), and the figures the notebooks drew (docs/figures/, from tests/test_notebooks.py).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sphinx")
pytest.importorskip("myst_parser")

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
STRICT = ["-W", "--keep-going", "-E", "-q", "-b", "html"]  # the Makefile's docs target


def _build(source: Path, out: Path) -> subprocess.CompletedProcess:
    """Build the pages in ``source`` with the site's configuration into ``out``."""
    return subprocess.run(
        [sys.executable, "-m", "sphinx", *STRICT, "-c", str(DOCS), str(source), str(out)],
        capture_output=True, text=True, timeout=300,
    )


def test_the_site_builds_without_a_warning(tmp_path):
    html = tmp_path / "html"
    done = _build(DOCS, html)
    assert done.returncode == 0, done.stderr

    def page(name: str) -> str:
        return (html / f"{name}.html").read_text()

    for guide, title in (("algorithm", "iHOMER in streamlabels"), ("design", "How streamlabels"),
                         ("deployment", "Deploying the Kafka service"), ("security", "Security")):
        assert title in page(guide)
    assert "example_precision" in page("metrics") and "Zero denominators" in page("metrics")
    anchors = {
        "metrics": ["streamlabels.evaluate.metrics.MultiLabelMetrics.update"],
        "api/ihomer": ["streamlabels.IHOMER.learn_one", "streamlabels.IHOMER.predict_many"],
        "api/evaluate": ["streamlabels.evaluate.prequential.prequential"],
        "api/scoring": ["streamlabels.scoring.export", "streamlabels.scoring.predict_many"],
        "api/streams": ["streamlabels.streams.ArffStream", "streamlabels.streams.datasets.load"],
        "api/state": ["streamlabels.state.dumps", "streamlabels.state.loads"],
        "api/service": ["streamlabels_service.config.ServiceConfig"],
    }
    for name, ids in anchors.items():
        for anchor in ids:
            assert f'id="{anchor}"' in page(name), (name, anchor)
    assert "STREAMLABELS_MAX_MESSAGE_BYTES" in page("api/service")  # the settings table
    figures = sorted(path.name for path in (DOCS / "figures").glob("*.png"))
    assert figures and sorted(path.name for path in (html / "_images").glob("*.png")) == figures
    assert all(f'src="_images/{name}"' in page("notebooks") for name in figures)


def test_a_broken_reference_fails_the_build(tmp_path):
    source = tmp_path / "pages"
    source.mkdir()
    (source / "index.md").write_text(
        "# Broken\n\n"
        "See [the guide](no-such-guide.md) and [a section](other.md#no-such-section).\n\n"
        "```{toctree}\nother\n```\n\n"
        "```{eval-rst}\n.. autofunction:: streamlabels.evaluate.no_such_function\n```\n"
    )
    (source / "other.md").write_text("# Other\n\n## A section\n")
    done = _build(source, tmp_path / "html")
    assert done.returncode != 0
    for broken in ("no-such-guide.md", "no-such-section", "no_such_function"):
        assert broken in done.stderr, done.stderr
