"""The Kafka consumer service of one role, assembled: a :class:`~.session.Session` (all
things Kafka) running the role's pipeline (:mod:`.roles`)."""

from __future__ import annotations

from .config import ServiceConfig
from .roles import Scorer, Single, Trainer
from .session import Session
from .telemetry import Metrics

__all__ = ["Service"]

ROLES = {"single": Single, "trainer": Trainer, "scorer": Scorer}


class Service(Session):
    """The service ``config`` describes (its ``role``); see :class:`~.session.Session`.

    Parameters
    ----------
    config
        The settings (:class:`~.config.ServiceConfig`).
    metrics
        Where to count (default: a fresh :class:`~.telemetry.Metrics`).
    """

    def __init__(self, config: ServiceConfig, metrics: Metrics | None = None):
        labels = config.label_vocabulary()
        metrics = metrics or Metrics()
        super().__init__(config, ROLES[config.role](config, labels, metrics), labels, metrics)
