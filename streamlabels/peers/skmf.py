"""scikit-multiflow's multi-label models as river multi-label classifiers, through a subprocess.

scikit-multiflow 0.5.3 needs numpy 1.23 and regenerated C sources on Python 3.11, so it lives in
an interpreter of its own (``make skmf-env`` builds ``.skmf-venv/``) that the main install never
depends on. :class:`ScikitMultiflowModel` starts ``skmf_worker.py`` in that interpreter and
streams rows to it over a pipe, a batch per round trip (``predict_learn_many``: the worker
predicts each row, then learns it, in order, so test-then-train is exact); our metrics score the
answers, so scikit-multiflow lands in the same table as every other model.

The interpreter is ``STREAMLABELS_SKMF_PYTHON`` if set, else ``.skmf-venv/bin/python`` in the
current folder or in the streamlabels checkout.
"""

from __future__ import annotations

import json
import subprocess
import weakref
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from river import base

from streamlabels.peers import SKMF_MODELS
from streamlabels.peers.requirements import SkmfUnavailableError, skmf_python

__all__ = ["ScikitMultiflowModel", "SkmfUnavailableError", "skmf_python"]

_WORKER = Path(__file__).with_name("skmf_worker.py")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.stdin.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    process.stdout.close()


class ScikitMultiflowModel(base.MultiLabelClassifier):
    """A scikit-multiflow multi-label model running in the scikit-multiflow interpreter.

    Parameters
    ----------
    model
        One of :data:`streamlabels.peers.SKMF_MODELS` (``"br-ht"``, ``"br-nb"``, ``"lc-ht"``,
        ``"cc-sgd"``).
    feature_names
        The stream's features, fixed up front (scikit-multiflow takes dense rows); others are
        ignored, missing ones are 0.
    label_names
        The stream's labels; ``predict_one`` always answers for all of them.
    seed
        Random seed of the models that use one.
    """

    def __init__(
        self, model: str, feature_names: Sequence, label_names: Sequence, seed: int = 42
    ):
        if model not in SKMF_MODELS:
            known = ", ".join(SKMF_MODELS)
            raise ValueError(f"unknown scikit-multiflow model {model!r}; known: {known}")
        self.model = model
        self.feature_names = list(feature_names)
        self.label_names = list(label_names)
        self.seed = seed
        self.labels = self.label_names  # prequential and bench batch a model whose labels match
        self._position = {name: i for i, name in enumerate(self.feature_names)}
        self._worker_peak_mb = 0.0
        self._python = skmf_python()
        self._process = subprocess.Popen(
            [str(self._python), str(_WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self._stopper = weakref.finalize(self, _stop, self._process)
        setup = {
            "model": model,
            "seed": seed,
            "n_features": len(self.feature_names),
            "n_labels": len(self.label_names),
        }
        self.version = self._ask(setup, b"")["ok"]

    @classmethod
    def _unit_test_params(cls):
        yield {"model": "br-nb", "feature_names": ["a", "b"], "label_names": ["x", "y"]}

    def _ask(self, header: dict, payload: bytes) -> dict:
        try:
            self._process.stdin.write(json.dumps(header).encode() + b"\n" + payload)
            self._process.stdin.flush()
            line = self._process.stdout.readline()
        except BrokenPipeError:
            line = b""
        answer = json.loads(line) if line else {"error": "the worker exited without answering"}
        if "error" in answer:
            self._stopper()
            error = SkmfUnavailableError(
                f"scikit-multiflow worker ({self.model}, run by {self._python}) failed: "
                f"{answer['error']}"
            )
            error.worker_traceback = answer.get("traceback", "")
            raise error
        self._worker_peak_mb = answer.get("peak_rss_mb", self._worker_peak_mb)
        return answer

    def _exchange(self, X: np.ndarray, Y: np.ndarray, predict: bool, learn: bool) -> np.ndarray:
        n = X.shape[0]
        header = {"rows": n, "predict": predict, "learn": learn}
        payload = np.ascontiguousarray(X, dtype="<f8").tobytes()
        payload += np.ascontiguousarray(Y, dtype=np.uint8).tobytes()
        self._ask(header, payload)
        raw = self._process.stdout.read(n * len(self.label_names))
        return np.frombuffer(raw, dtype=np.uint8).reshape(n, len(self.label_names)).astype(bool)

    def _dense(self, X, feature_names: Sequence) -> np.ndarray:
        """``X`` (dense or scipy sparse) with our feature columns, in our order."""
        rows = X.toarray() if hasattr(X, "toarray") else np.asarray(X, dtype=np.float64)
        if list(feature_names) == self.feature_names:
            return rows
        dense = np.zeros((rows.shape[0], len(self.feature_names)))
        for j, name in enumerate(feature_names):
            if name in self._position:
                dense[:, self._position[name]] = rows[:, j]
        return dense

    def _row(self, x: dict) -> np.ndarray:
        row = np.zeros((1, len(self.feature_names)))
        for name, value in x.items():
            if name in self._position:
                row[0, self._position[name]] = value
        return row

    def predict_learn_many(self, X, Y: np.ndarray, feature_names: Sequence) -> np.ndarray:
        """Predict each row of ``X``, then learn it with its labels ``Y``, in order."""
        return self._exchange(self._dense(X, feature_names), Y, predict=True, learn=True)

    def learn_one(self, x: dict, y: dict) -> None:
        truth = np.array([[bool(y.get(label, False)) for label in self.label_names]])
        self._exchange(self._row(x), truth, predict=False, learn=True)

    def predict_one(self, x: dict, **kwargs) -> dict:
        nothing = np.zeros((1, len(self.label_names)), dtype=bool)
        guess = self._exchange(self._row(x), nothing, predict=True, learn=False)[0]
        return {label: bool(value) for label, value in zip(self.label_names, guess)}

    def predict_proba_one(self, x: dict, **kwargs) -> dict:
        """The prediction as certain probabilities (the worker answers labels, not scores)."""
        return {
            label: {True: float(value), False: 1.0 - float(value)}
            for label, value in self.predict_one(x).items()
        }

    def model_size(self) -> dict:
        """The worker's peak resident memory (its own process: not in the caller's RSS)."""
        return {"worker peak RSS (MB)": self._worker_peak_mb}

    def close(self) -> None:
        """Stop the worker now (it also stops when the model is garbage-collected)."""
        self._stopper()
