"""Gradient aggregation (mtl_teach/weighting.py) and the CAGrad toy (mtl_teach/toy_objectives.py).

Every method is checked against numbers worked out by hand (written in the
comments), then against its defining property, then against TorchJD 0.18.0
(a test-only dependency: the kit itself uses its own, readable functions).
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from mtl_teach import MTLConfigError
from mtl_teach.toy_objectives import (
    STARTS,
    distance_to_pareto_set,
    optimize_toy,
    pareto_set,
    toy_gradients,
    toy_losses,
)
from mtl_teach.weighting import (
    METHODS,
    _cagrad_weights_two_tasks,
    _gram,
    _min_norm_weights_exact,
    _minimize_on_simplex,
    _pcgrad_in_order,
    cagrad,
    cosine_similarity_matrix,
    equal,
    get_method,
    mgda,
    pcgrad,
)

# The running example: g1 = (1, 0), g2 = (-1, 1). g1 . g2 = -1 < 0: they conflict.
G_CONFLICT = torch.tensor([[1.0, 0.0], [-1.0, 1.0]])
# Two tasks that agree (g1 . g2 = 2 > 0).
G_AGREE = torch.tensor([[1.0, 2.0], [2.0, 0.0]])


def assert_close(actual, expected, atol=1e-6):
    torch.testing.assert_close(actual, torch.as_tensor(expected, dtype=actual.dtype), atol=atol, rtol=0)


def simplex_grid(n_tasks, steps=20):
    """All weight vectors with entries k / steps summing to 1."""
    for ks in itertools.product(range(steps + 1), repeat=n_tasks - 1):
        if sum(ks) <= steps:
            yield torch.tensor([*ks, steps - sum(ks)], dtype=torch.float64) / steps


# ---------------------------------------------------------------- hand computations, two tasks


def test_equal_is_the_sum_by_hand():
    # (1, 0) + (-1, 1) = (0, 1)
    assert_close(equal(G_CONFLICT), [0.0, 1.0])


def test_pcgrad_two_tasks_by_hand():
    # g1 . g2 = -1, |g1|^2 = 1, |g2|^2 = 2.
    # g1' = g1 - (-1 / 2) g2 = (1, 0) + (-0.5, 0.5) = (0.5, 0.5)
    # g2' = g2 - (-1 / 1) g1 = (-1, 1) + (1, 0)    = (0, 1)
    # sum = (0.5, 1.5)
    assert_close(pcgrad(G_CONFLICT), [0.5, 1.5])


def test_pcgrad_projections_no_longer_conflict():
    # Each projected gradient is orthogonal to the other task's original one.
    g1p, g2p = torch.tensor([0.5, 0.5]), torch.tensor([0.0, 1.0])
    assert g1p @ G_CONFLICT[1] == 0 and g2p @ G_CONFLICT[0] == 0


def test_mgda_two_tasks_by_hand():
    # w1 = (g2 - g1) . g2 / |g1 - g2|^2 = ((-2, 1) . (-1, 1)) / |(2, -1)|^2 = 3 / 5
    # d = 0.6 (1, 0) + 0.4 (-1, 1) = (0.2, 0.4), and d is orthogonal to g1 - g2 = (2, -1).
    assert_close(mgda(G_CONFLICT), [0.2, 0.4])
    # Both tasks improve equally along -d: g1 . d = g2 . d = |d|^2 = 0.2.
    d = mgda(G_CONFLICT)
    assert_close(G_CONFLICT @ d, [0.2, 0.2])


def test_mgda_picks_the_shorter_gradient_when_one_dominates():
    # g1 = (1, 0), g2 = (3, 0): the hull is the segment [1, 3] on the x-axis; its shortest point is g1.
    assert_close(mgda(torch.tensor([[1.0, 0.0], [3.0, 0.0]])), [1.0, 0.0])


def test_cagrad_two_tasks_by_hand():
    # g0 = (0, 0.5), |g0| = 0.5, sqrt(phi) = c |g0| = 0.25 for c = 0.5.
    # Minimising g_w . g0 + 0.25 |g_w| over w = (x, 1 - x) gives x = 1 (its derivative
    # -0.5 + 0.25 (5x - 3) / sqrt(5x^2 - 6x + 2) is 0 at x = 1), so g_w = g1 = (1, 0), |g_w| = 1:
    # d = g0 + 0.25 / 1 * (1, 0) = (0.25, 0.5).
    d = cagrad(G_CONFLICT, c=0.5)
    assert_close(d, [0.25, 0.5])
    # The point of CAGrad: the worse-off task improves as much as possible; here both get 0.25.
    assert_close(G_CONFLICT @ d, [0.25, 0.25])


def test_cagrad_symmetric_tasks_scale_the_mean_by_one_plus_c():
    # g1 = (1, 0), g2 = (0, 1): by symmetry w = (1/2, 1/2), g_w = g0 = (0.5, 0.5),
    # d = g0 + c |g0| g0 / |g0| = (1 + c) g0 = (0.75, 0.75) for c = 0.5.
    # (This is why the official toy.py divides by 1 + c; we return d unscaled.)
    assert_close(cagrad(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), c=0.5), [0.75, 0.75])


def test_one_task_every_method_returns_its_gradient():
    g = torch.tensor([[3.0, -4.0]])
    for method in (equal, pcgrad, mgda):
        assert_close(method(g), [3.0, -4.0])
    assert_close(cagrad(g, c=0.5), [4.5, -6.0])  # (1 + c) g: g0 = g_w = g


# ---------------------------------------------------------------- three tasks

# g1 = (1, 0), g2 = (-1, 1), g3 = (0, -1): g1.g2 = -1, g1.g3 = 0, g2.g3 = -1.
G3 = torch.tensor([[1.0, 0.0], [-1.0, 1.0], [0.0, -1.0]])
# Task 0 (g1): against g2 first -> (0.5, 0.5), then g3: (0.5, 0.5).(0, -1) = -0.5 < 0 -> (0.5, 0).
#              against g3 first -> no conflict (dot 0), then g2 -> (0.5, 0.5).
# Task 1 (g2): either order ends at (0, 0): g1 first -> (0, 1) -> minus (0, 1) -> (0, 0);
#              g3 first -> (-1, 0) -> plus (1, 0) -> (0, 0).
# Task 2 (g3): against g1 first -> no conflict, then g2 -> (0, -1) + (-0.5, 0.5) = (-0.5, -0.5).
#              against g2 first -> (-0.5, -0.5), then g1: dot -0.5 -> (0, -0.5).
PCGRAD3_BY_ORDER = {
    ((1, 2), (2, 0), (0, 1)): (0.0, -0.5),  # (0.5, 0) + (0, 0) + (-0.5, -0.5)
    ((1, 2), (2, 0), (1, 0)): (0.5, -0.5),  # (0.5, 0) + (0, 0) + (0, -0.5)
    ((2, 1), (0, 2), (0, 1)): (0.0, 0.0),  # (0.5, 0.5) + (0, 0) + (-0.5, -0.5)
    ((2, 1), (0, 2), (1, 0)): (0.5, 0.0),  # (0.5, 0.5) + (0, 0) + (0, -0.5)
}


@pytest.mark.parametrize(("orders", "expected"), PCGRAD3_BY_ORDER.items())
def test_pcgrad_three_tasks_fixed_order_by_hand(orders, expected):
    assert_close(_pcgrad_in_order(G3, orders), expected)


def test_pcgrad_three_tasks_random_orders_give_only_the_hand_results_and_repeat_with_a_seed():
    seen = set()
    for seed in range(40):
        d = pcgrad(G3, generator=torch.Generator().manual_seed(seed))
        seen.add(tuple(round(v, 6) for v in d.tolist()))
        again = pcgrad(G3, generator=torch.Generator().manual_seed(seed))
        assert torch.equal(d, again)
    assert seen == {tuple(v) for v in PCGRAD3_BY_ORDER.values()}


def test_pcgrad_default_generator_is_torchs_global_one():
    torch.manual_seed(7)
    first = pcgrad(G3)
    torch.manual_seed(7)
    assert torch.equal(pcgrad(G3), first)


def test_pcgrad_two_tasks_draws_no_random_numbers():
    torch.manual_seed(3)
    pcgrad(G_CONFLICT)
    after = torch.rand(1)
    torch.manual_seed(3)
    assert torch.equal(torch.rand(1), after)


def test_mgda_three_gradients_that_cancel_give_zero():
    # (1, 0) + (0, 1) + (-1, -1) = 0, so w = (1/3, 1/3, 1/3) reaches the origin: Pareto-stationary.
    assert_close(mgda(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])), [0.0, 0.0])


def test_mgda_three_tasks_by_hand():
    # Hull of (2, 0), (0, 2), (3, 3): the closest point to 0 is the midpoint of the first edge, (1, 1).
    assert_close(mgda(torch.tensor([[2.0, 0.0], [0.0, 2.0], [3.0, 3.0]])), [1.0, 1.0])


# ---------------------------------------------------------------- properties


def test_agreeing_gradients_leave_pcgrad_equal_to_equal():
    assert torch.equal(pcgrad(G_AGREE), equal(G_AGREE))
    G = torch.rand(4, 6) + 0.1  # all entries positive: every pair agrees
    assert_close(pcgrad(G, generator=torch.Generator().manual_seed(0)), G.sum(0))


@pytest.mark.parametrize("method", [equal, pcgrad, mgda, cagrad, cosine_similarity_matrix])
def test_input_is_never_modified_in_place(method):
    for G in (G_CONFLICT, G3, torch.randn(5, 7, generator=torch.Generator().manual_seed(1))):
        before = G.clone()
        method(G)
        assert torch.equal(G, before)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("n_tasks", [2, 3, 4])
def test_mgda_has_the_smallest_norm_over_a_grid_of_simplex_weights(seed, n_tasks):
    G = torch.randn(n_tasks, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    best_on_grid = min((w @ G).norm().item() for w in simplex_grid(n_tasks))
    assert mgda(G).norm().item() <= best_on_grid + 1e-12


@pytest.mark.parametrize("n_tasks", [3, 5, 8])
def test_mgda_iterative_solver_matches_the_exact_one(n_tasks):
    # mgda uses the exact solver up to 6 tasks and projected gradient descent beyond.
    for seed in range(3):
        G = torch.randn(n_tasks, 4 + 8 * (seed % 2), dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
        K = _gram(G)
        exact = _min_norm_weights_exact(K) @ G
        iterative = _minimize_on_simplex(lambda w, K=K: (w @ K @ w, 2 * K @ w), n_tasks, K) @ G
        assert_close(iterative, exact, atol=1e-7)
        if n_tasks == 8:
            assert_close(mgda(G), exact, atol=1e-7)


def test_cagrad_with_c_zero_is_the_mean_gradient():
    for G in (G_CONFLICT, G3, torch.randn(4, 6, generator=torch.Generator().manual_seed(2))):
        assert_close(cagrad(G, c=0), G.mean(0))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("n_tasks", [2, 3, 4])
def test_cagrad_maximises_the_worst_task_improvement_within_the_ball(seed, n_tasks):
    # d solves: maximise min_t g_t . d subject to |d - g0| <= c |g0|.
    gen = torch.Generator().manual_seed(seed)
    G = torch.randn(n_tasks, 3, dtype=torch.float64, generator=gen)
    c = 0.5
    g0 = G.mean(0)
    d = cagrad(G, c=c)
    radius = c * g0.norm()
    assert (d - g0).norm() <= radius + 1e-9
    worst = (G @ d).min()
    directions = torch.randn(4000, 3, dtype=torch.float64, generator=gen)
    others = g0 + radius * directions / directions.norm(dim=1, keepdim=True)  # on the sphere
    assert worst >= (others @ G.T).min(dim=1).values.max() - 1e-7


@pytest.mark.parametrize("seed", range(6))
def test_cagrad_two_task_closed_form_matches_a_grid(seed):
    G = torch.randn(2, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    K = _gram(G)
    b, sqrt_phi = K.mean(1), 0.5 * K.mean().sqrt().item()

    def objective(w):
        return (w @ b + sqrt_phi * (w @ K @ w).clamp_min(0).sqrt()).item()

    best = min(objective(torch.tensor([x, 1 - x], dtype=torch.float64)) for x in torch.linspace(0, 1, 2001).tolist())
    assert objective(_cagrad_weights_two_tasks(K, sqrt_phi)) <= best + 1e-12


def test_methods_keep_dtype_and_shape():
    for dtype in (torch.float32, torch.float64):
        G = G3.to(dtype)
        for name, method in METHODS.items():
            d = method(G)
            assert d.shape == (2,) and d.dtype == dtype, name


# ---------------------------------------------------------------- cosine similarity


def test_cosine_similarity_matrix_by_hand_and_zero_rows():
    G = torch.tensor([[1.0, 0.0], [0.0, 0.0], [-1.0, 1.0]])
    cos = cosine_similarity_matrix(G)
    s = 1 / math.sqrt(2)  # cos between (1, 0) and (-1, 1) is -1/sqrt(2)
    assert_close(cos, [[1.0, 0.0, -s], [0.0, 0.0, 0.0], [-s, 0.0, 1.0]])
    assert not cos.isnan().any()
    assert torch.equal(cos, cos.T)


# ---------------------------------------------------------------- registry and errors


def test_registry_and_get_method():
    assert set(METHODS) == {"equal", "pcgrad", "mgda", "cagrad"}
    assert get_method("pcgrad") is pcgrad
    mine = lambda G: G[0]  # noqa: E731
    assert get_method(mine) is mine
    with pytest.raises(MTLConfigError, match=r"must be one of 'cagrad', 'equal', 'mgda', 'pcgrad'.*got 'pcgard'"):
        get_method("pcgard")


@pytest.mark.parametrize(
    ("G", "message"),
    [
        ([[1.0, 0.0]], r"pcgrad\(G\) must be a torch.Tensor of shape \(tasks, params\); got list"),
        (torch.ones(3), r"pcgrad\(G\) must be 2-D, shape \(tasks, params\).*got shape \(3,\)"),
        (torch.ones(2, 2, dtype=torch.long), r"pcgrad\(G\) must hold floating-point numbers; got torch.int64"),
        (torch.ones(0, 3), r"pcgrad\(G\) must have at least 1 task \(row\); got shape \(0, 3\)"),
        (torch.tensor([[1.0, 0.0], [math.nan, 1.0]]), r"must be finite.*task row\(s\) \[1\]"),
        (torch.tensor([[math.inf, 0.0], [0.0, 1.0]]), r"must be finite.*task row\(s\) \[0\]"),
    ],
)
def test_clear_errors_for_bad_gradient_matrices(G, message):
    with pytest.raises(MTLConfigError, match=message) as info:
        pcgrad(G)
    assert "Fix:" in str(info.value)


@pytest.mark.parametrize("method", [equal, mgda, cagrad, cosine_similarity_matrix])
def test_every_method_names_itself_in_its_errors(method):
    with pytest.raises(MTLConfigError, match=rf"^{method.__name__}\(G\)"):
        method(torch.ones(3))


@pytest.mark.parametrize("c", [-0.1, "0.5", None, True, math.nan, math.inf])
def test_cagrad_rejects_bad_c(c):
    with pytest.raises(MTLConfigError, match=r"cagrad\(c\) must be a finite number >= 0"):
        cagrad(G_CONFLICT, c=c)


def test_pcgrad_rejects_a_bad_generator():
    with pytest.raises(MTLConfigError, match=r"pcgrad\(generator\) must be a torch.Generator or None; got 0"):
        pcgrad(G_CONFLICT, generator=0)


# ---------------------------------------------------------------- TorchJD cross-check (test-only dependency)


def _random_matrices():
    gen = torch.Generator().manual_seed(0)
    for n_tasks in (2, 3, 5):
        for n_params in (3, 10):
            yield torch.randn(n_tasks, n_params, dtype=torch.float64, generator=gen)


def test_pcgrad_matches_torchjd():
    aggregation = pytest.importorskip("torchjd.aggregation")
    for G in _random_matrices():
        # TorchJD's PCGrad also sums the projected rows, and draws one torch.randperm(T) per task
        # from torch's global generator, as ours does for 3+ tasks: same seed, same orders.
        torch.manual_seed(0)
        theirs = aggregation.PCGrad()(G)
        torch.manual_seed(0)
        assert_close(pcgrad(G), theirs, atol=1e-10)


def test_mgda_matches_torchjd():
    aggregation = pytest.importorskip("torchjd.aggregation")
    for G in _random_matrices():
        # TorchJD's MGDA is Frank-Wolfe with weights summing to 1 (no factor T), as ours; run it to convergence.
        theirs = aggregation.MGDA(epsilon=1e-12, max_iters=20_000)(G)
        ours = mgda(G)
        assert ours.norm() <= theirs.norm() + 1e-12  # ours is exact: never longer
        assert_close(ours, theirs, atol=1e-4)


# ---------------------------------------------------------------- the CAGrad toy


def test_toy_gradients_match_autograd():
    x = (torch.rand(200, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) - 0.5) * 24
    x = torch.cat([x, torch.tensor(STARTS, dtype=torch.float64)]).requires_grad_(True)
    L = toy_losses(x)  # (n, 2)
    autograd = torch.stack([torch.autograd.grad(L[:, t].sum(), x, retain_graph=True)[0] for t in range(2)], dim=1)
    assert_close(toy_gradients(x.detach()), autograd, atol=1e-9)


def test_pareto_set_passes_the_papers_points():
    P = pareto_set()
    assert_close(P[len(P) // 2], [0.0, -8.3551], atol=1e-3)  # the paper plots it at x2 = -8.3552
    assert_close(P[0], [-7.0, -8.4345], atol=1e-3)
    assert (P[:, 1] < -8.35).all() and (P[:, 1] > -8.44).all()
    assert_close(distance_to_pareto_set(P[::100]), torch.zeros(15, dtype=torch.float64))


# Measured at the defaults (lr 1e-2, betas (0.9, 0.9), 4000 steps), distance to the Pareto set
# from (-8.5, 7.5), (-8.5, -5), (9, 9):
#   equal  9.80,   0.0005, 9.89     (escapes only between steps 7000 and 8000)
#   pcgrad 0.0047, 0.0044, 0.0043   (reaches the set by step ~2500)
#   mgda   0.0027, 0.0017, 0.0028
#   cagrad 0.0003, 0.0008, 0.0004   (reaches the set by step ~3000)
TOY_OUTCOME = {"equal": (False, True, False), "pcgrad": (True, True, True), "cagrad": (True, True, True)}


@pytest.mark.parametrize("method", TOY_OUTCOME)
def test_toy_equal_stalls_while_pcgrad_and_cagrad_reach_the_pareto_set(method):
    # About 3 s per method on an idle core; speed is the benchmarks' business, never a unit test's.
    trajectory = optimize_toy(method)
    assert trajectory.shape == (4001, 3, 2)
    assert torch.equal(trajectory[0], torch.tensor(STARTS, dtype=torch.float64))
    distance = distance_to_pareto_set(trajectory[-1])
    for reached, d in zip(TOY_OUTCOME[method], distance.tolist(), strict=True):
        assert (d < 0.05) if reached else (d > 5.0), (method, distance)


def test_toy_rejects_bad_settings():
    with pytest.raises(MTLConfigError, match=r"optimize_toy\(steps\) must be an integer >= 0"):
        optimize_toy("equal", steps=1.5)
    with pytest.raises(MTLConfigError, match=r"get_method.*got 'sgd'"):
        optimize_toy("sgd")
    with pytest.raises(MTLConfigError, match=r"toy_losses\(x\) must be a float tensor of points, shape \(n, 2\)"):
        toy_losses(torch.zeros(3))
