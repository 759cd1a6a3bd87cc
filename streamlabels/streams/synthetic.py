"""A seeded multi-label stream with planted label groups and drift in both features and groups.

It plays the part of scikit-multiflow's ``MultilabelGenerator`` and MOA's
``MetaMultilabelGenerator`` for this project: a default stream that needs no download, whose label
co-occurrence structure is known at every instance, so a label clustering can be checked against
the truth before and after a drift.

Generative model of one concept (d features, L labels, K groups):

- x ~ N(0, I_d). Gaussian features keep the calibration below exact.
- The labels are partitioned into K groups of near-equal size (a random permutation, then
  consecutive slices).
- Group g is *active* with probability sigmoid(w_g·x + b), with ‖w_g‖ = 5, so activation is a
  fairly sharp, learnable function of x. Groups activate independently given x.
- A label of an active group fires with probability sigmoid(a + v_l·x), its own feature term, with
  ‖v_l‖ = 2 and v_l ⟂ w_g, so that the term is independent of the group's activation.
- A label of an inactive group fires with a small probability r, regardless of x.

The constants b, a and r are solved for so that, in expectation, a label of an active group
fires with probability 0.8, the mean number of positive labels is ``cardinality``, and a share
``noise`` of the positive labels come from inactive groups.

Drifts switch to a new concept:

- ``"concept"`` draws new feature weights (w, v) and keeps the groups;
- ``"cooccurrence"`` draws a new partition of the labels and keeps w, so which labels co-occur
  changes (and with it where in feature space each label lives, as labels follow their group);
- ``"both"`` does both.

A drift of ``width`` w > 0 is gradual: an instance t in [at - w/2, at + w/2) comes from the new
concept with probability sigmoid(10 (t - at) / w), about 0.7% at the edges and 50% at ``at``.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from river.datasets import base as river_datasets
from scipy.optimize import brentq
from scipy.special import expit

__all__ = ["Drift", "SyntheticStream"]

_GROUP_SCALE = 5.0  # ‖w_g‖: sharpness of group activation in x
_LABEL_SCALE = 2.0  # ‖v_l‖: strength of each label's own feature term
_IN_GROUP = 0.8  # mean firing probability of a label of an active group
_GRADUAL_SLOPE = 10.0  # sigmoid slope across a gradual drift's window, in units of 1 / width
_CHUNK = 512  # instances drawn per numpy call; fixed so every prefix of the stream is the same

_HERMITE_X, _HERMITE_W = np.polynomial.hermite_e.hermegauss(80)
_HERMITE_W = _HERMITE_W / _HERMITE_W.sum()


def _bias_for(mean: float, scale: float) -> float:
    """The bias c with E[sigmoid(c + scale·Z)] = mean for Z ~ N(0, 1) (Gauss-Hermite quadrature)."""
    return brentq(lambda c: float(_HERMITE_W @ expit(c + scale * _HERMITE_X)) - mean, -60.0, 60.0)


@dataclass(frozen=True)
class Drift:
    """A switch to a new concept at instance ``at``.

    Parameters
    ----------
    at
        Instance index where the new concept takes over (the middle of a gradual drift).
    width
        0 for an abrupt drift; otherwise the length of the window over which the new concept's
        share rises along a sigmoid.
    kind
        ``"concept"`` (new feature weights), ``"cooccurrence"`` (new label groups) or ``"both"``.
    """

    at: int
    width: int = 0
    kind: Literal["concept", "cooccurrence", "both"] = "concept"

    def __post_init__(self) -> None:
        if self.kind not in ("concept", "cooccurrence", "both"):
            raise ValueError(f"kind must be 'concept', 'cooccurrence' or 'both', got {self.kind!r}")
        if self.at < 0 or self.width < 0:
            raise ValueError(f"at and width must be >= 0, got at={self.at}, width={self.width}")

    @property
    def start(self) -> int:
        """First instance that may come from the new concept."""
        return self.at - self.width // 2

    @property
    def end(self) -> int:
        """First instance that always comes from the new concept."""
        return self.start + self.width


def _groups(group_of: np.ndarray, n_groups: int) -> list[list[int]]:
    """The partition as sorted lists of label ids, in a canonical order."""
    return sorted(np.flatnonzero(group_of == g).tolist() for g in range(n_groups))


@dataclass(frozen=True)
class _Concept:
    W: np.ndarray  # (K, d) group weights
    V: np.ndarray  # (L, d) label weights, each orthogonal to its group's row of W
    group_of: np.ndarray  # (L,) group id of every label


class SyntheticStream(river_datasets.SyntheticDataset):
    """Seeded drifting multi-label stream with planted groups of co-occurring labels.

    Iterating yields ``(x, y)`` with ``x`` a dict of ``n_features`` floats and ``y`` a dict of
    every label to a bool. Every iteration replays the same stream, and a longer stream starts
    with the shorter one.

    Parameters
    ----------
    n_instances
        Length of the stream.
    n_features
        Number of features d (``"x0"`` ...).
    n_labels
        Number of labels L (``"y0"`` ...).
    n_groups
        Number of groups of co-occurring labels, 1 <= n_groups <= n_labels.
    cardinality
        Mean number of positive labels per instance.
    noise
        Share of the positive labels that fire outside any active group, at random.
    drifts
        :class:`Drift` events, in increasing order with non-overlapping windows.
    seed
        Seed of every random draw.

    Examples
    --------
    >>> stream = SyntheticStream(n_instances=1000, n_labels=6, n_groups=2, seed=1,
    ...                          drifts=[Drift(at=500, kind="cooccurrence")])
    >>> x, y = next(iter(stream))
    >>> len(x), sorted(y) == stream.label_names
    (20, True)
    >>> stream.structure_at(0)
    [['y0', 'y1', 'y4'], ['y2', 'y3', 'y5']]
    >>> stream.structure_at(500)
    [['y0', 'y3', 'y5'], ['y1', 'y2', 'y4']]
    >>> stream.concept_at(499), stream.concept_at(500)
    (0, 1)
    """

    def __init__(
        self,
        n_instances: int = 10_000,
        n_features: int = 20,
        n_labels: int = 12,
        n_groups: int = 3,
        cardinality: float = 2.0,
        noise: float = 0.05,
        drifts: Sequence[Drift] = (),
        seed: int = 42,
    ) -> None:
        super().__init__(
            task=river_datasets.MO_BINARY_CLF,
            n_features=n_features,
            n_samples=n_instances,
            n_outputs=n_labels,
        )
        self.n_instances = n_instances
        self.n_labels = n_labels
        self.n_groups = n_groups
        self.cardinality = cardinality
        self.noise = noise
        self.drifts = tuple(drifts)
        self.seed = seed
        self.feature_names = [f"x{i}" for i in range(n_features)]
        self.label_names = [f"y{i}" for i in range(n_labels)]
        self._validate()

        # Group activation rate p and inactive firing rate r from the cardinality budget:
        # E|Y| = p·L·0.8 (signal) + (1 - p)·L·r (noise), the noise part being `noise`·E|Y|.
        self._p = (1 - noise) * cardinality / (n_labels * _IN_GROUP)
        self._r = noise * cardinality / ((1 - self._p) * n_labels) if self._p < 1 else 0.0
        if not (0 < self._p < 1 and self._r <= 1):
            raise ValueError(
                f"cardinality={cardinality} is not reachable with {n_labels} labels and "
                f"noise={noise}: need 0 < (1 - noise) * cardinality < {_IN_GROUP} * n_labels"
            )
        self._b = _bias_for(self._p, _GROUP_SCALE)
        self._a = _bias_for(_IN_GROUP, _LABEL_SCALE)

        ss_params, ss_mix, self._ss_data = np.random.SeedSequence(seed).spawn(3)
        self._concepts = self._draw_concepts(np.random.default_rng(ss_params))
        rng_mix = np.random.default_rng(ss_mix)
        self._starts = [d.start for d in self.drifts]
        self._mix = [
            rng_mix.random(d.width)
            < expit(_GRADUAL_SLOPE * (np.arange(d.start, d.end) - d.at) / max(d.width, 1))
            for d in self.drifts
        ]

    def _validate(self) -> None:
        if self.n_instances < 0 or self.n_features < 2 or self.n_labels < 1:
            raise ValueError(
                "need n_instances >= 0, n_labels >= 1 and n_features >= 2 (each label's own "
                "feature term is orthogonal to its group's)"
            )
        if not 1 <= self.n_groups <= self.n_labels:
            raise ValueError(f"n_groups must be in [1, n_labels], got {self.n_groups}")
        if not 0 <= self.noise < 1:
            raise ValueError(f"noise must be in [0, 1), got {self.noise}")
        for prev, d in zip(self.drifts, self.drifts[1:]):
            if d.start < prev.end or d.at <= prev.at:
                raise ValueError(f"drifts must be in order with disjoint windows: {prev}, {d}")
        regroups = any(d.kind != "concept" for d in self.drifts)
        if regroups and self.n_groups in (1, self.n_labels):
            raise ValueError(
                "a co-occurrence drift needs 1 < n_groups < n_labels: otherwise every partition "
                "of the labels into n_groups groups is the same"
            )

    def _draw_concepts(self, rng: np.random.Generator) -> list[_Concept]:
        """Concept 0, then one concept per drift; every step draws the same amount of randomness
        whatever the kind, so a concept's parameters do not depend on earlier drift kinds."""
        K, L, d = self.n_groups, self.n_labels, self.n_features

        def weights() -> tuple[np.ndarray, np.ndarray]:
            W = rng.standard_normal((K, d))
            W *= _GROUP_SCALE / np.linalg.norm(W, axis=1, keepdims=True)
            return W, rng.standard_normal((L, d))

        def partition(old: np.ndarray | None) -> np.ndarray:
            while True:
                group_of = np.empty(L, dtype=np.int64)
                for g, labels in enumerate(np.array_split(rng.permutation(L), K)):
                    group_of[labels] = g
                # With K = 1 or K = L every partition is the same one.
                if old is None or K in (1, L) or _groups(group_of, K) != _groups(old, K):
                    return group_of

        def concept(W: np.ndarray, V_raw: np.ndarray, group_of: np.ndarray) -> _Concept:
            w = W[group_of]  # (L, d): each label's group direction
            V = V_raw - (np.sum(V_raw * w, axis=1) / _GROUP_SCALE**2)[:, None] * w
            V *= _LABEL_SCALE / np.linalg.norm(V, axis=1, keepdims=True)
            return _Concept(W, V, group_of)

        W, V_raw = weights()
        group_of = partition(None)
        concepts = [concept(W, V_raw, group_of)]
        for drift in self.drifts:
            new_W, new_V_raw = weights()
            new_group_of = partition(group_of)
            if drift.kind != "cooccurrence":
                W, V_raw = new_W, new_V_raw
            if drift.kind != "concept":
                group_of = new_group_of
            concepts.append(concept(W, V_raw, group_of))
        return concepts

    def concept_at(self, t: int) -> int:
        """Index of the concept that generated instance ``t`` (0 before the first drift).

        Inside a gradual drift's window this is the concept actually drawn for that instance.
        """
        if t < 0:
            raise ValueError(f"t must be >= 0, got {t}")
        j = bisect.bisect_right(self._starts, t)  # drifts whose window has started
        if j == 0:
            return 0
        drift = self.drifts[j - 1]
        if t < drift.end:
            return j - 1 + int(self._mix[j - 1][t - drift.start])
        return j

    def structure_at(self, t: int) -> list[list[str]]:
        """The true groups of co-occurring labels at instance ``t``, sorted.

        These are the groups of :meth:`concept_at` ``(t)``: inside a gradual drift's window, the
        groups of the concept drawn for that very instance.
        """
        groups = _groups(self._concepts[self.concept_at(t)].group_of, self.n_groups)
        return [[self.label_names[i] for i in g] for g in groups]

    def _concepts_of(self, t0: int, t1: int) -> np.ndarray:
        ts = np.arange(t0, t1)
        out = np.searchsorted([d.end for d in self.drifts], ts, side="right")
        for j, drift in enumerate(self.drifts):
            lo, hi = max(drift.start, t0), min(drift.end, t1)
            if lo < hi:
                out[lo - t0 : hi - t0] = j + self._mix[j][lo - drift.start : hi - drift.start]
        return out

    def _chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(X, Y) arrays of consecutive chunks; always drawn at full size, then cut."""
        rng = np.random.default_rng(self._ss_data)
        K, L, d = self.n_groups, self.n_labels, self.n_features
        for t0 in range(0, self.n_instances, _CHUNK):
            X = rng.standard_normal((_CHUNK, d))
            u_group = rng.random((_CHUNK, K))
            u_label = rng.random((_CHUNK, L))
            Y = np.zeros((_CHUNK, L), dtype=bool)
            conc = self._concepts_of(t0, t0 + _CHUNK)
            for c in np.unique(conc):
                rows = conc == c
                cp = self._concepts[c]
                Xc = X[rows]
                active = u_group[rows] < expit(Xc @ cp.W.T + self._b)
                p_label = np.where(active[:, cp.group_of], expit(self._a + Xc @ cp.V.T), self._r)
                Y[rows] = u_label[rows] < p_label
            n = min(_CHUNK, self.n_instances - t0)
            yield X[:n], Y[:n]

    def __iter__(self) -> Iterator[tuple[dict[str, float], dict[str, bool]]]:
        fnames, lnames = self.feature_names, self.label_names
        for X, Y in self._chunks():
            for xrow, yrow in zip(X.tolist(), Y.tolist()):
                yield dict(zip(fnames, xrow)), dict(zip(lnames, yrow))
