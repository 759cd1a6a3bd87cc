"""Label tree (ODAC-J), coarsening, commit rule and rendering: docs/algorithm.md §2.1, §6, §7.2, §7.4."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamlabels.labeltree import (
    LabelTree,
    NodeCounts,
    Partitioner,
    coarsen,
    dense_coefficients,
    group_id,
    hoeffding_bound,
    plot_tree,
    render_text,
)
from streamlabels.state import dumps
from streamlabels.streams import datasets

PLANTED = [(0, 1, 2, 3), (4, 5, 6, 7), (8, 9, 10, 11)]


def planted_stream(seed: int, probs, n: int, keep: float = 0.9):
    """Each planted group fires with its own probability; each label of a firing group is kept
    with probability ``keep``, so group members co-occur strongly but not perfectly."""
    rng = np.random.default_rng(seed)
    for _ in range(n):
        yield [
            label
            for group, p in zip(PLANTED, probs)
            if rng.random() < p
            for label in group
            if rng.random() < keep
        ]


def run(tree: LabelTree, stream) -> list:
    events = []
    for labels in stream:
        events += tree.update(labels)
    return events


def is_partition(groups, n_labels: int) -> bool:
    flat = [label for group in groups for label in group]
    return sorted(flat) == list(range(n_labels)) and all(list(g) == sorted(g) for g in groups)


# --- (i) recovery of planted co-occurrence groups -------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_planted_groups_are_recovered(seed):
    tree = LabelTree(12, n_min=200)
    run(tree, planted_stream(seed, probs=(0.5, 0.3, 0.1), n=4000))
    assert sorted(tree.leaves()) == PLANTED
    assert sorted(coarsen(tree, m_min=4)) == PLANTED


@pytest.mark.parametrize("seed", range(5))
def test_refinement_recovers_equally_frequent_groups(seed):
    # With equal group frequencies the first split's pivots leave the third group's labels at
    # near-equal distance to both sides; the mean-distance pass keeps that group together.
    tree = LabelTree(12, n_min=200, split_refine_iters=1)
    run(tree, planted_stream(seed, probs=(0.3, 0.3, 0.3), n=6000))
    assert sorted(tree.leaves()) == PLANTED


@pytest.mark.parametrize("seed", range(5))
def test_b2_b3_scenario_pairs_are_kept_together(seed):
    # A≡B, C≡D, E and F independent: the prototype's similarity-as-distance bug produced
    # {A}, {C}, {B,E}, {D,F}; Jaccard distances must give {A,B}, {C,D} and E, F apart or together.
    rng = np.random.default_rng(seed)
    tree = LabelTree(6, n_min=200)
    for _ in range(5000):
        labels = []
        if rng.random() < 0.3:
            labels += [0, 1]
        if rng.random() < 0.3:
            labels += [2, 3]
        labels += [e for e in (4, 5) if rng.random() < 0.3]
        tree.update(labels)
    leaves = set(tree.leaves())
    assert {(0, 1), (2, 3)} <= leaves
    assert leaves - {(0, 1), (2, 3)} in ({(4,), (5,)}, {(4, 5)})


# --- (ii) a 2-label leaf never splits ---------------------------------------------------------


def test_two_label_leaf_never_splits_but_three_labels_do():
    # 0 and 1 fire together, 2 never with them: {0,1} | {2} is as clear a split as can be.
    rng = np.random.default_rng(0)
    stream = [[0, 1] if rng.random() < 0.5 else [2] for _ in range(3000)]
    pair = LabelTree(2, n_min=100)  # labels 1 and 2 of the stream: never together, d = 1
    assert run(pair, ([i - 1 for i in y if i > 0] for y in stream)) == []
    assert pair.root.d1 is not None and pair.root.d2 is None  # tested, but d2 is undefined
    assert pair.leaves() == [(0, 1)]
    triple = LabelTree(3, n_min=100)
    assert [(e.kind, e.children) for e in run(triple, stream)] == [("split", ((0, 1), (2,)))]


# --- (iii) merge test against the parent's frozen diameter -----------------------------------


def _split_then(phase2: list[list[int]]) -> tuple[LabelTree, list]:
    """Split {0..3} into {0,1}, {2,3} at t=200 with a parent diameter of exactly 0.8, then feed
    200 instances of ``phase2`` (repeated) so the children are tested once, at t=400."""
    cycle = [[0, 1]] * 4 + [[2, 3]] * 4 + [[0, 1, 2, 3]] * 2  # d(0,2) = 1 - 2/10
    tree = LabelTree(4, n_min=200)
    events = run(tree, cycle * 20)
    assert [(e.t, e.kind, e.children) for e in events] == [(200, "split", ((0, 1), (2, 3)))]
    assert tree.root.d1 == pytest.approx(0.8)
    assert tree.root.eps == pytest.approx(hoeffding_bound(200, 0.1))
    reps = 200 // len(phase2)
    return tree, run(tree, phase2 * reps)


def test_merge_fires_when_child_diameter_exceeds_frozen_parent_diameter():
    # 0 and 1 stop co-occurring: d1({0,1}) = 1 and 1 - 0.8 > eps (0.076 at n_eff = 200).
    tree, events = _split_then([[0], [1], [2, 3], [0], [1]])
    assert [(e.t, e.kind, e.labels, e.children) for e in events] == [
        (400, "merge", (0, 1, 2, 3), ((0, 1), (2, 3)))
    ]
    assert tree.leaves() == [(0, 1, 2, 3)] and tree.n_nodes == 1
    assert tree.root.t0 == 400 and tree.root.d1 is None


def test_no_merge_when_excess_is_within_the_bound():
    # d({0,1}) = 1 - 3/20 = 0.85: larger than the parent's 0.8, but by less than eps = 0.076.
    phase2 = [[0, 1]] * 3 + [[0]] * 9 + [[1]] * 8
    tree, events = _split_then(phase2)
    left = tree.root.children[0]
    assert left.d1 == pytest.approx(0.85)
    assert left.d1 - tree.root.d1 < left.eps
    assert events == []
    assert tree.leaves() == [(0, 1), (2, 3)]


def test_merge_discards_a_further_split_sibling_and_skips_its_detached_leaves():
    tree = LabelTree.from_nested(((0, 1), ((2, 3), (4, 5))), n_min=100)
    right = tree.root.children[1]
    tree.root.d1, tree.root.eps = 0.5, 0.01
    right.d1, right.eps = 0.0, 0.01  # (2,3) would merge `right` if it were still tested
    events = run(tree, [[0], [1], [2], [3], [4]] * 20)
    assert [(e.kind, e.labels) for e in events] == [("merge", (0, 1, 2, 3, 4, 5))]
    assert tree.leaves() == [(0, 1, 2, 3, 4, 5)] and tree.n_nodes == 1
    assert all(node.counts is None for node in right.iter_preorder())


# --- (iv) sparse checkpoint formulas equal the dense definition ------------------------------


@settings(max_examples=300, deadline=None)
@given(
    labels=st.lists(st.integers(0, 15), min_size=1, max_size=10, unique=True).map(sorted),
    data=st.data(),
)
def test_sparse_coefficients_equal_dense_reference(labels, data):
    counts = NodeCounts(stride=16)
    instances = data.draw(
        st.lists(st.lists(st.sampled_from(labels), min_size=1, max_size=5), max_size=25)
    )
    for y in instances:
        counts.update(sorted(set(y)))
    sparse = counts.coefficients(labels)
    dense = dense_coefficients(labels, counts.c, counts.pair_counts())
    if dense is None:
        assert sparse is None
        return
    assert (sparse.d0, sparse.d1, sparse.d2, sparse.pivot, sparse.n_pairs) == (
        dense.d0, dense.d1, dense.d2, dense.pivot, dense.n_pairs,
    )
    assert sparse.avg == pytest.approx(dense.avg, abs=1e-12)


def test_pivot_tie_rules():
    # Never co-occurring pairs (distance 1): the most evidence (union) wins, then the smaller pair.
    counts = NodeCounts(stride=4)
    for y in ([0, 1], [0, 1], [2], [3], [1, 3]):
        counts.update(y)
    assert counts.coefficients([0, 1, 2, 3]).pivot == (0, 3)  # (0,3) and (1,2): union 4
    for y in ([2], [2]):
        counts.update(y)
    assert counts.coefficients([0, 1, 2, 3]).pivot == (1, 2)  # union 6 beats 5
    # All pairs co-occurred: the same rules over the stored distances.
    counts = NodeCounts(stride=3)
    for y in ([0, 1], [0, 2], [1, 2], [0, 1, 2]):
        counts.update(y)
    coef = counts.coefficients([0, 1, 2])
    assert (coef.pivot, coef.d1, coef.d2) == ((0, 1), 0.5, 0.5)
    counts.update([2])
    coef = counts.coefficients([0, 1, 2])
    assert (coef.pivot, coef.d1, coef.d2, coef.d0) == ((0, 2), 0.6, 0.6, 0.5)


# --- (v) coarsening ----------------------------------------------------------------------------


@st.composite
def nested_trees(draw):
    q = draw(st.integers(1, 24))
    labels = draw(st.permutations(range(q)))

    def build(part):
        if len(part) == 1 or draw(st.booleans()):
            return tuple(part)
        cut = draw(st.integers(1, len(part) - 1))
        return (build(part[:cut]), build(part[cut:]))

    return q, build(list(labels))


@settings(max_examples=300, deadline=None)
@given(shape=nested_trees(), m_min=st.integers(1, 6), slack=st.none() | st.integers(0, 8))
def test_coarsening_is_an_exact_partition_respecting_sizes(shape, m_min, slack):
    q, nested = shape
    tree = LabelTree.from_nested(nested)
    m_max = None if slack is None else 2 * m_min - 1 + slack
    groups = coarsen(tree, m_min, m_max)
    leaves = tree.leaves()
    assert is_partition(groups, q)
    for group in groups:  # unions of whole leaves
        members = [leaf for leaf in leaves if set(leaf) <= set(group)]
        assert sum(map(len, members)) == len(group)
        assert m_max is None or len(group) <= m_max or (group in leaves)
    if q >= m_min and (m_max is None or m_max >= q):
        assert min(map(len, groups)) >= m_min
    if q < m_min:
        assert groups == [tuple(range(q))]


def test_yeast_coarsening_example_from_the_spec():
    # Leaves {1,3,8,9,10,12}, {2,4,5}, {6,13}, {7,11,14} (labels 1..14 renumbered from 0).
    tree = LabelTree.from_nested((((0, 2, 7, 8, 9, 11), (1, 3, 4)), ((5, 12), (6, 10, 13))))
    assert coarsen(tree, m_min=4) == [(0, 1, 2, 3, 4, 7, 8, 9, 11), (5, 6, 10, 12, 13)]


def test_pending_labels_join_the_smallest_fitting_group_first_in_preorder():
    tree = LabelTree.from_nested(((((0, 1, 2), (3, 4, 5, 6)), (7, 8, 9)), (10,)))
    assert coarsen(tree, m_min=3) == [(0, 1, 2, 10), (3, 4, 5, 6), (7, 8, 9)]
    # m_max=4 still admits a group of 3 + 1; m_max=5 as well, but m_max blocks 4 + 2:
    tree = LabelTree.from_nested(((0, 1, 2, 3), ((4,), (5,))))
    assert coarsen(tree, m_min=3) == [(0, 1, 2, 3, 4, 5)]
    assert coarsen(tree, m_min=3, m_max=5) == [(0, 1, 2, 3), (4, 5)]


def test_coarsening_validates_sizes():
    tree = LabelTree(5)
    with pytest.raises(ValueError, match="2\\*m_min-1"):
        coarsen(tree, m_min=3, m_max=4)
    with pytest.raises(ValueError, match="m_min"):
        coarsen(tree, m_min=0)


# --- commit rule, automatic m_min, group identity ------------------------------------------


def test_commit_waits_for_a_stable_checkpoint():
    tree = LabelTree.from_nested(((0, 1), (2, 3)))
    part = Partitioner(m_min=1)
    assert part.start(tree) == [(0, 1), (2, 3)]
    split_tree = LabelTree.from_nested(((0, 1), ((2,), (3,))))
    # The tree keeps flipping: nothing is committed.
    assert part.at_test_point(split_tree, changed=True) is None
    assert part.at_test_point(tree, changed=True) is None
    assert part.at_test_point(split_tree, changed=True) is None
    assert part.current == [(0, 1), (2, 3)]
    # One quiet checkpoint: adopt; nothing pending afterwards.
    assert part.at_test_point(split_tree, changed=False) == [(0, 1), (2,), (3,)]
    assert part.current == [(0, 1), (2,), (3,)]
    assert part.at_test_point(split_tree, changed=False) is None


def test_commit_variants():
    flat = LabelTree.from_nested(((0, 1), (2, 3)))
    split = LabelTree.from_nested(((0, 1), ((2,), (3,))))
    eager = Partitioner(m_min=1, commit_after_stable=0)
    eager.start(flat)
    assert eager.at_test_point(split, changed=True) == [(0, 1), (2,), (3,)]
    patient = Partitioner(m_min=1, commit_after_stable=2)
    patient.start(flat)
    assert patient.at_test_point(split, changed=True) is None
    assert patient.at_test_point(split, changed=False) is None
    assert patient.at_test_point(split, changed=False) == [(0, 1), (2,), (3,)]
    # A flip that ends where it started recomputes the same partition: nothing to report.
    back = Partitioner(m_min=1)
    back.start(flat)
    assert back.at_test_point(split, changed=True) is None
    assert back.at_test_point(flat, changed=True) is None
    assert back.at_test_point(flat, changed=False) is None
    assert back.current == [(0, 1), (2, 3)]


def test_commit_rule_on_a_live_tree():
    tree = LabelTree(4, n_min=100)
    part = Partitioner(m_min=1)
    assert part.start(tree) == [(0, 1, 2, 3)]
    commits = []
    for t in range(600):
        events = tree.update([0, 1] if t % 2 else [2, 3])
        if tree.t % tree.n_min == 0:
            commits.append((tree.t, part.at_test_point(tree, changed=bool(events))))
    assert commits == [(100, None), (200, None), (300, [(0, 1), (2, 3)]), (400, None),
                       (500, None), (600, None)]


def test_auto_m_min_follows_the_modal_labelset_size():
    part = Partitioner()
    assert part.effective_m_min() == 1
    for k in (0, 0, 0, 2, 2):
        part.observe_labelset_size(k)
    assert part.effective_m_min() == 1  # mode 0, at least 1
    for k in (2, 2, 3, 3):
        part.observe_labelset_size(k)
    assert part.effective_m_min() == 2  # 2 seen 4 times
    for k in (3, 3):
        part.observe_labelset_size(k)
    assert part.effective_m_min() == 2  # 2 and 3 tie: the smaller
    capped = Partitioner(m_max=3)
    for _ in range(5):
        capped.observe_labelset_size(4)
    assert capped.effective_m_min() == 2  # keeps m_max >= 2*m_min-1


def test_auto_m_min_change_counts_as_a_change():
    tree = LabelTree.from_nested(((0, 1), ((2,), (3,))))
    part = Partitioner()
    assert part.start(tree) == [(0, 1), (2,), (3,)]
    part.observe_labelset_size(2)
    assert part.at_test_point(tree, changed=False) is None  # m_min 1 -> 2: a change
    assert part.at_test_point(tree, changed=False) == [(0, 1), (2, 3)]


def test_partitioner_validation():
    with pytest.raises(ValueError, match="2\\*m_min-1"):
        Partitioner(m_min=3, m_max=4)
    with pytest.raises(ValueError, match="auto"):
        Partitioner(m_min="mode")
    with pytest.raises(ValueError, match="commit_after_stable"):
        Partitioner(commit_after_stable=-1)


def test_group_id_is_stable_and_order_free():
    assert group_id([2, 0, 1]) == group_id((0, 1, 2)) == group_id([0, 1, 2, 2])
    assert group_id([0, 1]) != group_id([0, 1, 2])
    assert group_id([0, 1, 2]) == "83341505f293b77d"  # fixed across processes and versions


# --- update, determinism, reset, validation --------------------------------------------------


def test_update_touches_only_the_positive_labels():
    tree = LabelTree(1000, n_min=10_000)
    tree.update([900, 5])
    tree.update([5])
    counts = tree.root.counts
    assert counts.c == {5: 2, 900: 1}
    assert counts.pair_counts() == {(5, 900): 1}
    assert counts.c_any == 2
    tree.update([])
    assert counts.c_any == 2 and tree.t == 3
    tree.update(np.array([900, 5]))  # numpy arrays (and numpy ints) are fine
    assert counts.pair_counts() == {(5, 900): 2}


def test_update_only_counts_pairs_within_a_leaf():
    tree = LabelTree.from_nested(((0, 1, 2), (3, 4)), n_min=1000)
    left, right = tree.root.children
    tree.update([4, 0, 3, 1])
    assert left.counts.pair_counts() == {(0, 1): 1}
    assert right.counts.pair_counts() == {(3, 4): 1}
    tree.update([2])
    assert (left.counts.c_any, right.counts.c_any) == (2, 1)


def test_out_of_range_labels_are_rejected():
    tree = LabelTree(3)
    with pytest.raises(ValueError, match="label ids"):
        tree.update([3])
    with pytest.raises(ValueError, match="label ids"):
        tree.update([-1])
    assert tree.t == 0 and tree.root.counts.c == {}


def test_constructor_validation():
    with pytest.raises(ValueError, match="evidence"):
        LabelTree(3, evidence="all")
    with pytest.raises(ValueError, match="delta"):
        LabelTree(3, delta=0.0)
    with pytest.raises(ValueError, match="n_min"):
        LabelTree(3, n_min=0)


def test_deterministic_and_insensitive_to_label_order_and_repeats():
    stream = list(planted_stream(3, probs=(0.5, 0.3, 0.1), n=2000))
    a, b = LabelTree(12, n_min=200), LabelTree(12, n_min=200)
    events_a = run(a, stream)
    events_b = run(b, ([*reversed(y), *y] for y in stream))
    assert events_a == events_b and events_a
    assert a.leaves() == b.leaves()
    assert [n.d1 for n in a.nodes()] == [n.d1 for n in b.nodes()]


def test_balanced_ties_split_disjoint_labels_in_halves():
    # Only 0 and 1 ever co-occur; 1 fires most, so the pivots are 1 and 2 and label 0 joins 1.
    # Every other label is at distance 1 from both pivots: sending ties to one side would give
    # a 2 | 8 split, the balanced rule alternates.
    tree = LabelTree(10, n_min=400)
    events = run(tree, ([0, 1] if t % 10 == 0 else [t % 10] for t in range(400)))
    assert [(e.kind, e.children) for e in events] == [
        ("split", ((0, 1, 4, 6, 8), (2, 3, 5, 7, 9)))
    ]


def test_evidence_choice_sets_the_bound():
    stream = [[0, 1]] * 50 + [[]] * 150 + [[0]] * 100 + [[]] * 100
    for evidence, n_eff in (("relevant", 150), ("instances", 400)):
        tree = LabelTree(2, n_min=200, evidence=evidence)
        run(tree, stream)
        assert tree.n_eff(tree.root) == n_eff
        assert tree.root.eps == pytest.approx(hoeffding_bound(n_eff, 0.1))


def test_reset_returns_to_one_fresh_root():
    tree = LabelTree(12, n_min=200)
    run(tree, planted_stream(0, probs=(0.5, 0.3, 0.1), n=1000))
    assert len(tree.leaves()) > 1
    event = tree.reset()
    assert (event.t, event.kind, event.labels) == (1000, "reset", tuple(range(12)))
    assert tree.leaves() == [tuple(range(12))] and tree.n_nodes == 1
    assert tree.root.t0 == 1000 and tree.root.counts.c_any == 0
    run(tree, planted_stream(1, probs=(0.5, 0.3, 0.1), n=4000))
    assert sorted(tree.leaves()) == PLANTED


def test_memory_reflects_stored_pairs():
    tree = LabelTree(100, n_min=10_000)
    empty = tree.memory_bytes()
    for i in range(0, 100, 4):
        tree.update([i, i + 1, i + 2, i + 3])
    assert tree.memory_bytes() > empty + 25 * 6 * 50


# --- real data smoke and rendering ---------------------------------------------------------


def yeast_label_sets() -> list[list[int]]:
    """Positive label ids of each yeast instance, the labels numbered in file order."""
    Y = datasets.load_arrays("yeast", labels=-14).Y
    return [np.flatnonzero(y).tolist() for y in Y]


def test_yeast_stream_keeps_an_exact_partition_at_every_checkpoint(data_dir, monkeypatch):
    monkeypatch.setenv("STREAMLABELS_DATA", str(data_dir))
    rows = yeast_label_sets()
    assert len(rows) == 2417
    tree = LabelTree(14, n_min=100)
    part = Partitioner()
    part.start(tree)
    n_events = 0
    for labels in rows:
        part.observe_labelset_size(len(labels))
        events = tree.update(labels)
        assert all(e.t == tree.t for e in events)
        n_events += len(events)
        if tree.t % tree.n_min == 0:
            assert is_partition(tree.leaves(), 14)
            part.at_test_point(tree, changed=bool(events))
            assert is_partition(part.current, 14)
        else:
            assert events == []
    assert n_events > 0
    assert tree.n_nodes == sum(1 for _ in tree.nodes())
    assert part.effective_m_min() == 4  # yeast's modal label-set size
    assert all(len(group) >= 4 for group in part.current)


@pytest.mark.parametrize("name, n_rows", [("yeast", 2417), ("enron", 1702)])
def test_counting_many_rows_at_once_equals_one_at_a_time(data_dir, monkeypatch, name, n_rows):
    """``update_many`` over stretches of any length (test points inside them, across them) gives
    the events, counts and dict orders (the coefficients' float sums follow them) of ``update``
    row by row: the saved states are the same bytes."""
    monkeypatch.setenv("STREAMLABELS_DATA", str(data_dir))
    Y = datasets.load_arrays(name).Y.astype(bool)[:n_rows]
    one, many = LabelTree(Y.shape[1], n_min=100), LabelTree(Y.shape[1], n_min=100)
    part_one, part_many = Partitioner(), Partitioner()
    events_one = []
    for y in Y:
        events_one += one.update(np.flatnonzero(y))
        part_one.observe_labelset_size(int(y.sum()))
    events_many, start = [], 0
    for stop in np.cumsum(np.random.default_rng(7).integers(0, 350, size=n_rows)).tolist():
        events_many += many.update_many(Y[start:stop])
        part_many.observe_labelset_sizes(Y[start:stop].sum(axis=1))
        start = min(stop, n_rows)
    assert len(events_one) >= 5 and any(e.kind == "split" for e in events_one)
    assert events_many == events_one
    assert dumps(many.get_state()) == dumps(one.get_state())
    assert part_many.get_state() == part_one.get_state()


def test_update_many_refuses_a_matrix_of_other_labels():
    with pytest.raises(ValueError, match="4 label columns"):
        LabelTree(4).update_many(np.zeros((3, 5), dtype=bool))


def test_render_text_shows_leaves_and_statistics():
    tree = LabelTree(4, n_min=100)
    run(tree, ([0, 1] if t % 2 else [2, 3] for t in range(300)))
    text = render_text(tree, label_names=["sun", "sea", "snow", "ski"])
    lines = text.splitlines()
    assert lines[0].startswith("(4 labels) d1=1.000")
    assert lines[1] == "  [sun, sea] n_eff=50 d1=0.000 eps=0.152"
    many = LabelTree(40)
    assert "... (+28)" in render_text(many)
    with pytest.raises(ValueError, match="label names"):
        render_text(tree, label_names=["a"])


def test_plot_tree_draws_every_leaf_label():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tree = LabelTree(12, n_min=200)
    run(tree, planted_stream(0, probs=(0.5, 0.3, 0.1), n=1000))
    names = [f"label{i}" for i in range(12)]
    ax = plot_tree(tree, label_names=names)
    drawn = "\n".join(text.get_text() for text in ax.texts)
    assert all(name in drawn for name in names)
    assert "d1=" in drawn
    plt.close(ax.figure)
