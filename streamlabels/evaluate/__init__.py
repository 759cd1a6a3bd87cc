"""Prequential evaluation and multi-label metrics."""

from __future__ import annotations

from streamlabels.evaluate.metrics import MultiLabelMetrics, RankingMetrics
from streamlabels.evaluate.prequential import PrequentialResult, prequential

__all__ = ["MultiLabelMetrics", "PrequentialResult", "RankingMetrics", "prequential"]
