"""The scikit-multiflow side of the ``skmf-*`` peers: run by the scikit-multiflow interpreter.

scikit-multiflow 0.5.3 needs numpy 1.23 and cannot live in streamlabels' environment, so this
script runs in its own (``make skmf-env``) and imports nothing from streamlabels. It reads
requests from stdin and answers on stdout, each a JSON line followed by raw little-endian arrays
(no pickles: the two sides run different numpy versions):

``{"model": NAME, "seed": S, "n_features": D, "n_labels": L}``
    build the model; answers ``{"ok": "scikit-multiflow 0.5.3"}``.
``{"rows": N, "predict": true|false, "learn": true|false}`` + ``X`` (N*D float64) + ``Y`` (N*L u8)
    for each row in order, predict it (if asked) and then learn it (if asked): test-then-train,
    exactly as row-by-row calls would do it, for a whole batch per round trip. Answers
    ``{"rows": N, "peak_rss_mb": M}`` + the predictions (N*L uint8, zeros when not asked).

Any failure answers ``{"error": message}`` and ends the worker.
"""

import json
import resource
import sys
import traceback

import numpy as np


def _incremental_sgd(seed):
    """sklearn's SGD logistic regression, learning one row at a time from the very first.

    scikit-multiflow's ``ClassifierChain`` calls ``fit`` on its first batch and ``partial_fit``
    after, without ``classes``; on a stream of single rows both fail (one class seen). Here both
    are one incremental step over the classes {0, 1}.
    """
    from sklearn.linear_model import SGDClassifier

    class IncrementalSGD(SGDClassifier):
        def partial_fit(self, X, y, classes=None, sample_weight=None):
            return super().partial_fit(X, y, classes=[0, 1], sample_weight=sample_weight)

        fit = partial_fit

    return IncrementalSGD(loss="log_loss", random_state=seed)


def _model(name, seed, n_labels):
    from skmultiflow.bayes import NaiveBayes
    from skmultiflow.meta import ClassifierChain, MultiOutputLearner
    from skmultiflow.trees import HoeffdingTreeClassifier, LabelCombinationHoeffdingTreeClassifier

    if name == "br-ht":
        return MultiOutputLearner(HoeffdingTreeClassifier())
    if name == "br-nb":
        return MultiOutputLearner(NaiveBayes())
    if name == "lc-ht":
        return LabelCombinationHoeffdingTreeClassifier(n_labels=n_labels)
    if name == "cc-sgd":
        return ClassifierChain(_incremental_sgd(seed), random_state=seed)
    raise ValueError(f"unknown scikit-multiflow model {name!r}")


class Learner:
    """One model, fed row by row; predicts all-negative until it has learned a row."""

    def __init__(self, name, seed, n_labels):
        self.model = _model(name, seed, n_labels)
        self.n_labels = n_labels
        self.fitted = False

    def predict(self, x):
        if not self.fitted:
            return np.zeros(self.n_labels, dtype=np.uint8)
        return (np.asarray(self.model.predict(x[None, :])).reshape(-1) > 0.5).astype(np.uint8)

    def learn(self, x, y):
        self.model.partial_fit(x[None, :], y[None, :].astype(np.int64), classes=[0, 1])
        self.fitted = True


def _peak_rss_mb():
    """This process's peak resident memory. Linux's ``ru_maxrss`` survives ``exec`` and would
    report the parent's size at fork; ``VmHWM`` belongs to the worker's own address space."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _read_exact(stream, n):
    data = stream.read(n)
    if len(data) != n:
        raise EOFError(f"expected {n} bytes, got {len(data)}")
    return data


def _answer(out, header, payload=b""):
    out.write(json.dumps(header).encode() + b"\n" + payload)
    out.flush()


def serve(inp, out):
    request = json.loads(inp.readline())
    n_features, n_labels = request["n_features"], request["n_labels"]
    learner = Learner(request["model"], request["seed"], n_labels)
    import skmultiflow

    _answer(out, {"ok": f"scikit-multiflow {skmultiflow.__version__}"})
    while line := inp.readline():
        request = json.loads(line)
        n = request["rows"]
        X = np.frombuffer(_read_exact(inp, n * n_features * 8), dtype="<f8")
        Y = np.frombuffer(_read_exact(inp, n * n_labels), dtype=np.uint8)
        X, Y = X.reshape(n, n_features), Y.reshape(n, n_labels)
        guesses = np.zeros((n, n_labels), dtype=np.uint8)
        for i in range(n):
            if request["predict"]:
                guesses[i] = learner.predict(X[i])
            if request["learn"]:
                learner.learn(X[i], Y[i])
        _answer(out, {"rows": n, "peak_rss_mb": _peak_rss_mb()}, guesses.tobytes())


if __name__ == "__main__":
    answers = sys.stdout.buffer
    sys.stdout = sys.stderr  # a library's print() must not corrupt the answers
    try:
        serve(sys.stdin.buffer, answers)
    except Exception as exc:  # noqa: BLE001 (the parent raises whatever failed here as its own)
        _answer(answers, {"error": f"{exc!r}", "traceback": traceback.format_exc()})
        sys.exit(1)
