"""river's own estimator checks, on IHOMER.

river runs its multi-label checks on ``datasets.Music``, which it downloads. Music is the
``emotions`` benchmark (593 songs, 72 features, 6 labels), so we hand river the same data from
``STREAMLABELS_DATA`` instead and run ``river.checks`` unchanged.
"""

from __future__ import annotations

import itertools

import pytest
from river import checks
from river import datasets as river_datasets

from streamlabels.ihomer import IHOMER
from streamlabels.streams import datasets


class _LocalMusic:
    def take(self, n):
        return list(itertools.islice(datasets.load("emotions"), n))


@pytest.fixture
def local_music(data_dir, monkeypatch):
    monkeypatch.setenv("STREAMLABELS_DATA", str(data_dir))
    monkeypatch.setattr(river_datasets, "Music", _LocalMusic)


@pytest.mark.parametrize("params", list(IHOMER._unit_test_params()), ids=lambda p: str(sorted(p)))
def test_check_estimator(params, local_music):
    checks.check_estimator(IHOMER(**params))
