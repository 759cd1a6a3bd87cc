"""Shared fixtures: where the benchmark datasets are (STREAMLABELS_DATA)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The folder holding the benchmark ARFF files; tests that need it skip without it."""
    value = os.environ.get("STREAMLABELS_DATA", "")
    for folder in value.split(os.pathsep):
        if folder and (Path(folder) / "yeast.arff.gz").exists():
            return Path(folder)
    pytest.skip("set STREAMLABELS_DATA to the folder of the benchmark datasets (make test does)")


def pytest_addoption(parser):
    parser.addoption(
        "--write-figures", action="store_true",
        help="tests/test_notebooks.py stores the figures the notebooks draw in docs/figures/, "
        "for the docs site (make docs-figures)",
    )
