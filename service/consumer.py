"""The Kafka consumer service of one role, assembled: a :class:`~service.session.Session` (all
things Kafka) running the role's pipeline (:mod:`service.roles`)."""

from __future__ import annotations

from service.config import ServiceConfig
from service.roles import Scorer, Single, Trainer
from service.session import Session
from service.telemetry import Metrics

__all__ = ["Service"]

ROLES = {"single": Single, "trainer": Trainer, "scorer": Scorer}


class Service(Session):
    """The service ``config`` describes (its ``role``); see :class:`~service.session.Session`.

    Parameters
    ----------
    config
        The settings (:class:`~service.config.ServiceConfig`).
    metrics
        Where to count (default: a fresh :class:`~service.telemetry.Metrics`).
    """

    def __init__(self, config: ServiceConfig, metrics: Metrics | None = None):
        labels = config.label_vocabulary()
        metrics = metrics or Metrics()
        super().__init__(config, ROLES[config.role](config, labels, metrics), labels, metrics)
