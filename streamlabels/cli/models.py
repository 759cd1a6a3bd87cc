"""Every model the command line knows, by name: iHOMER configurations, baselines, peers.

``streamlabels models`` lists them with whether each can run here, and ``bench`` and ``replay``
check every name they are given (:func:`check_models`) before running any. Both only look names
up: no model library is imported until a model is built.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence

from streamlabels.extras import MissingExtra
from streamlabels.peers import ModelEntry

__all__ = [
    "IHOMER_VARIANTS", "TARGETS", "add_target_argument", "catalogue", "check_models",
    "list_models", "make_model",
]

TARGETS = ("micro_f1", "macro_f1", "example_f1", "hamming", "subset")
"""The names ``--target`` takes: :data:`streamlabels.kernels.targets.TARGET_NAMES`, written out
so that the command line (and `serve`'s settings) start without numba (a test holds the two
equal)."""


def _ihomer(description: str, params: Callable[[], dict] = dict) -> ModelEntry:
    """An iHOMER configuration: ``params()`` over the defaults, features scaled as the stream's
    form suggests (centred, "standard", for dense files and the synthetic stream; "sparse" for
    sparse files) unless ``params`` says otherwise."""

    def build(feature_names: list, label_names: list, seed: int, sparse: bool):
        from streamlabels.ihomer import IHOMER

        chosen = {"scaling": "sparse" if sparse else "standard", **params()}
        return IHOMER(labels=label_names, features=feature_names, seed=seed, **chosen)

    return ModelEntry("iHOMER", description, build)


def _hoeffding_tree() -> dict:
    from river import tree

    return {"learner": tree.HoeffdingTreeClassifier()}


IHOMER_VARIANTS: dict[str, ModelEntry] = {
    "ihomer": _ihomer(
        "the default: a label hierarchy of compiled linear learners, experts mixed by Hedge, "
        "a learned F-optimal threshold"
    ),
    # ablations of the decision layer, one part switched off each (benchmarks/README.md)
    "ihomer-routing": _ihomer(
        "ablation: the plain iHOMER routing rule instead of the decision layer",
        lambda: {"decision": "routing"},
    ),
    "ihomer-fixed-threshold": _ihomer(
        "ablation: cut at 0.5 instead of the learned threshold", lambda: {"threshold": "fixed"}
    ),
    "ihomer-no-context": _ihomer(
        "ablation: the label's recent frequency instead of the label-context expert",
        lambda: {"experts": ("knn", "prior")},
    ),
    "ihomer-no-knn": _ihomer(
        "ablation: no kNN expert (label context only)", lambda: {"experts": ("context",)}
    ),
    "ihomer-uniform": _ihomer(
        "ablation: the experts mixed equally instead of by Hedge",
        lambda: {"weighting": "uniform"},
    ),
    "ihomer-standard": _ihomer(
        "features centred and scaled whatever the stream's form", lambda: {"scaling": "standard"}
    ),
    "ihomer-sparse": _ihomer(
        "features scaled without centring whatever the stream's form",
        lambda: {"scaling": "sparse"},
    ),
    "ihomer-cold": _ihomer(
        "new and split groups start fresh after a restructuring (no warm start)",
        lambda: {"restructure": "cold"},
    ),
    "ihomer-ht": _ihomer(
        "river's Hoeffding tree as the base learner (slow; cannot be saved with --save)",
        _hoeffding_tree,
    ),
    "ihomer-tree": _ihomer(
        "the compiled multi-label Hoeffding adaptive tree as the base learner",
        lambda: {"learner": "tree"},
    ),
}
"""The iHOMER configurations by model name."""


def catalogue() -> dict[str, ModelEntry]:
    """Every model the command line knows, by name, in listing order."""
    from streamlabels.peers import PEERS
    from streamlabels.peers.baselines import BASELINES

    return {**IHOMER_VARIANTS, **BASELINES, **PEERS}


def _unknown(name: str, known: Iterable[str]) -> ValueError:
    close = difflib.get_close_matches(str(name), list(known), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ValueError(f"unknown model {name!r}{hint}; `streamlabels models` lists them all")


def check_models(names: Iterable[str]) -> None:
    """Refuse, before anything runs, a model name that is unknown or whose requirement is not
    installed here, in one line that names the model and what installs its requirement.

    Examples
    --------
    >>> check_models(["ihomer", "prev-ls"])
    >>> check_models(["ihomer", "ihomr"])
    Traceback (most recent call last):
    ...
    ValueError: unknown model 'ihomr' (did you mean 'ihomer'?); `streamlabels models` lists ...
    """
    known = catalogue()
    for name in names:
        if name not in known:
            raise _unknown(name, known)
        missing = known[name].missing()
        if missing:
            raise MissingExtra(f"{missing}; model {name!r} cannot run without it")


def add_target_argument(parser) -> None:
    """``--target``: the metric an iHOMER model decides for (IHOMER's ``target``)."""
    parser.add_argument(
        "--target", choices=TARGETS, metavar="METRIC",
        help="the metric iHOMER's decisions are for: " + ", ".join(TARGETS)
        + " (default: micro_f1)",
    )


def make_model(
    name: str, feature_names: Sequence, label_names: Sequence, seed: int = 42,
    sparse: bool = False, target: str | None = None,
):
    """Build the model called ``name`` for a stream with these features and labels, deciding
    for ``target`` (an iHOMER model's ``target``; None: the model's own).

    Baselines and peers are imported only when asked for: river's model zoo and the JVM bridge
    take seconds to import, which a replay of iHOMER should not pay.
    """
    known = catalogue()
    if name not in known:
        raise _unknown(name, known)
    entry = known[name]
    if target is not None and entry.family != "iHOMER":
        raise ValueError(f"--target chooses an iHOMER model's decisions; {name!r} is not one")
    model = entry.build(list(feature_names), list(label_names), seed, sparse)
    return model if target is None else model.clone({"target": target})


def list_models(args) -> int:
    """``streamlabels models``: one line per model: whether it can run here, its family, what it
    is, and for one that cannot run, what is missing and what installs it."""
    known = catalogue()
    name_width = max(map(len, known))
    family_width = max(len(entry.family) for entry in known.values())
    print(f"{'model':<{name_width}}  here  {'family':<{family_width}}  what it is")
    for name, entry in known.items():
        missing = entry.missing()
        here = "no " if missing else "yes"
        line = f"{name:<{name_width}}  {here}   {entry.family:<{family_width}}  {entry.description}"
        print(line + (f"; cannot run here: {missing}" if missing else ""))
    return 0
