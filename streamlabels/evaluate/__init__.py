"""Prequential evaluation and multi-label metrics."""

from __future__ import annotations

from streamlabels.evaluate.metrics import CalibrationMetrics, MultiLabelMetrics, RankingMetrics
from streamlabels.evaluate.prequential import PrequentialResult, prequential

__all__ = [
    "CalibrationMetrics", "MultiLabelMetrics", "PrequentialResult", "RankingMetrics", "prequential",
]
