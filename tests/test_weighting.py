"""mtl_teach.weighting: each gradient method against a hand computation, and clear errors.

The expected numbers are worked out by hand in the comments, from the papers'
definitions; they are not printed by the code under test.
"""

from __future__ import annotations

import itertools

import pytest
import torch

from mtl_teach import MTLConfigError
from mtl_teach.weighting import (
    METHODS,
    cagrad,
    cosine_similarity_matrix,
    equal,
    get_method,
    mgda,
    mgda_weights,
    pcgrad,
)

CONFLICT = torch.tensor([[1.0, 0.0], [-1.0, 1.0]])  # g1 . g2 = -1: they conflict


def close(a: torch.Tensor, b: list[float]) -> bool:
    return torch.allclose(a, torch.tensor(b), atol=1e-5)


def test_equal_is_the_sum():
    assert close(equal(CONFLICT), [0.0, 1.0])


def test_pcgrad_two_conflicting_gradients_by_hand():
    # g1' = g1 - (g1.g2 / |g2|^2) g2 = (1, 0) - (-1/2)(-1, 1) = (0.5, 0.5)
    # g2' = g2 - (g2.g1 / |g1|^2) g1 = (-1, 1) - (-1/1)(1, 0) = (0, 1)
    # sum: (0.5, 1.5)
    assert close(pcgrad(CONFLICT), [0.5, 1.5])


def test_pcgrad_leaves_agreeing_and_orthogonal_gradients_alone():
    agree = torch.tensor([[1.0, 0.5], [0.5, 1.0]])
    orthogonal = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    assert close(pcgrad(agree), equal(agree).tolist()) and close(pcgrad(orthogonal), [1.0, 2.0])


def test_pcgrad_three_tasks_in_order_by_hand():
    G = torch.tensor([[1.0, 0.0], [-1.0, 1.0], [0.0, -1.0]])
    # g1: vs g2 (dot -1) -> (0.5, 0.5); vs g3 (dot -0.5) -> (0.5, 0)
    # g2: vs g1 (dot -1) -> (0, 1);     vs g3 (dot -1)   -> (0, 0)
    # g3: vs g1 (dot 0) unchanged;      vs g2 (dot -1)   -> (-0.5, -0.5)
    # sum: (0, -0.5)
    assert close(pcgrad(G), [0.0, -0.5])
    shuffled = pcgrad(G, generator=torch.Generator().manual_seed(0))
    assert shuffled.shape == (2,) and torch.equal(shuffled, pcgrad(G, generator=torch.Generator().manual_seed(0)))


def test_no_method_modifies_its_input():
    for method in METHODS.values():
        G = CONFLICT.clone()
        method(G)
        assert torch.equal(G, CONFLICT), method.__name__


def test_mgda_two_tasks_by_hand():
    # |a g1 + (1-a) g2|^2 = (2a - 1)^2 + (1 - a)^2, least at 10a - 6 = 0: a = 0.6
    # d = 0.6 (1, 0) + 0.4 (-1, 1) = (0.2, 0.4)
    assert close(mgda_weights(CONFLICT), [0.6, 0.4]) and close(mgda(CONFLICT), [0.2, 0.4])
    # g1 = (1, 0) lies between 0 and g2 = (2, 0): the min-norm point is g1 itself.
    assert close(mgda(torch.tensor([[1.0, 0.0], [2.0, 0.0]])), [1.0, 0.0])


def test_mgda_three_tasks_is_the_min_norm_point_of_the_simplex():
    G = torch.randn(3, 6, generator=torch.Generator().manual_seed(1))
    w = mgda_weights(G)
    assert torch.all(w >= 0) and w.sum().item() == pytest.approx(1.0)
    grid = [(a / 50, b / 50) for a, b in itertools.product(range(51), repeat=2) if a + b <= 50]
    best = min(float((torch.tensor([a, b, 1 - a - b]) @ G).norm()) for a, b in grid)
    assert float((w @ G).norm()) <= best + 1e-3


def test_cagrad_by_hand():
    # g1 = (1, 0), g2 = (0, 1): g0 = (0.5, 0.5), |g0| = 1/sqrt(2), radius = c |g0| = 0.5/sqrt(2).
    # g_w . g0 = 0.5 for every w on the simplex, and |g_w| is least at w = (0.5, 0.5): g_w = g0.
    # d = g0 + radius / |g_w| * g_w = g0 + 0.5 g0 = (0.75, 0.75); divided by 1 + c^2 = 1.25: (0.6, 0.6)
    assert close(cagrad(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), c=0.5), [0.6, 0.6])
    # c = 0: the mean gradient.
    assert close(cagrad(CONFLICT, c=0), [0.0, 0.5])


def test_cagrad_helps_the_task_that_gains_least():
    # Conflicting gradients: the mean barely helps task 1 (g1 . g0 = 0); CAGrad's direction helps both.
    direction = cagrad(CONFLICT, c=0.5)
    assert (CONFLICT @ direction).min() > (CONFLICT @ CONFLICT.mean(0)).min()


def test_cosine_similarity_matrix():
    cos = cosine_similarity_matrix(torch.tensor([[1.0, 0.0], [-1.0, 1.0], [0.0, 0.0]]))
    assert close(cos.diagonal(), [1.0, 1.0, 1.0])
    assert cos[0, 1].item() == pytest.approx(-(2**-0.5)) and cos[0, 1] == cos[1, 0]
    assert cos[2, 0] == 0 and cos[2, 1] == 0  # a zero gradient conflicts with nothing


def test_get_method():
    assert get_method("pcgrad") is pcgrad and get_method(equal) is equal
    with pytest.raises(
        MTLConfigError,
        match=r"weighting method must be one of 'cagrad', 'equal', 'mgda', 'pcgrad', or a function G -> direction; got 'pc_grad'",
    ):
        get_method("pc_grad")


@pytest.mark.parametrize(
    ("G", "message"),
    [
        ([[1.0, 0.0]], r"pcgrad\(G\) must be a torch.Tensor of shape \(tasks, params\); got list"),
        (torch.tensor([1.0, 0.0]), r"must be 2-D, one row per task.*shape \(2,\)"),
        (torch.tensor([[1, 0], [0, 1]]), r"must hold floats; got dtype torch.int64"),
        (torch.tensor([[1.0, float("nan")], [0.0, 1.0]]), r"must hold finite numbers"),
    ],
)
def test_bad_gradients_are_clear_errors(G, message):
    with pytest.raises(MTLConfigError, match=message):
        pcgrad(G)


@pytest.mark.parametrize("c", [-0.1, "0.5", True])
def test_bad_cagrad_radius(c):
    with pytest.raises(MTLConfigError, match=r"cagrad\(c\) must be a number >= 0"):
        cagrad(CONFLICT, c=c)
