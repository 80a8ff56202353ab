"""The two-parameter, two-task toy problem of the CAGrad paper, to watch aggregation methods work.

Liu et al. 2021 ("Conflict-Averse Gradient Descent for Multi-task Learning",
``toy.py`` in github.com/Cranial-XIX/CAGrad; Navon et al. 2022 reuse it) define,
for a point ``x = (x1, x2)``::

    f1 = log(max(|0.5(-x1 - 7) - tanh(-x2)|, 5e-6)) + 6
    f2 = log(max(|0.5(-x1 + 3) + tanh(-x2) + 2|, 5e-6)) + 6
    g1 = ((-x1 + 7)^2 + 0.1(-x2 - 8)^2) / 10 - 20
    g2 = ((-x1 - 7)^2 + 0.1(-x2 - 8)^2) / 10 - 20
    c1 = max(tanh(x2 / 2), 0),  c2 = max(tanh(-x2 / 2), 0)
    L1 = f1 c1 + g1 c2,  L2 = f2 c1 + g2 c2

The Pareto set (no point improves both losses) is a curve from (-7, -8.43)
through (0, -8.36) to (7, -8.43). The mean loss has two deep, narrow valleys
in the upper half (x1 near -5 and +5, where a log goes to -inf); plain
averaging slides into one and crawls along it, while conflict-aware methods
head for the Pareto set.

Settings. The paper runs Adam at lr 1e-3 for 100,000 steps. Here
:func:`optimize_toy` defaults to lr 1e-2, Adam betas (0.9, 0.9), 4,000 steps,
which keeps the paper's lesson in 1/25 of the steps: from (-8.5, 7.5) and
(9, 9) ``equal`` is still about 10 away from the Pareto set while ``pcgrad``,
``mgda`` and ``cagrad`` reach it from all three starts (tests/test_weighting.py
checks this). Run longer and ``equal`` escapes too (between 7,000 and 8,000
steps at these settings): it stalls, it is not stuck forever.

The lesson depends on the second beta, which sets how long Adam remembers
past squared gradients (about ``1 / (1 - beta2)`` steps). With PyTorch's
default betas (0.9, 0.999), lr 1e-2 and 4,000 steps, the distances to the
Pareto set from the three starts are 0.65 / 0.0 / 0.93 for ``equal``,
0.02 / 0.0 / 0.86 for ``pcgrad`` and 2.46 / 0.0 / 3.23 for ``cagrad``: equal
weighting almost gets there, and CAGrad does worse than it. Notebook 08 shows
both runs (its claims in tests/notebook_claims.py assert these outcomes).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from mtl_teach._errors import fail
from mtl_teach._probe import call_once, function_name
from mtl_teach._validation import is_integer, is_number
from mtl_teach.weighting import METHOD_FIX, AggregationMethod, check_direction, get_method

STARTS: tuple[tuple[float, float], ...] = ((-8.5, 7.5), (-8.5, -5.0), (9.0, 9.0))
"""The paper's three starting points."""

_LOWER = 5e-6  # the paper's floor inside the logs


def _as_points(x: object, who: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        points = x
    else:
        try:
            points = torch.tensor(x, dtype=torch.float64)
        except (TypeError, ValueError):
            fail(f"{who}(x)", "must be points of shape (n, 2)", x, "pass e.g. [[-8.5, 7.5], [9.0, 9.0]].")
    if points.ndim != 2 or points.shape[1] != 2 or not points.dtype.is_floating_point:
        fail(
            f"{who}(x)",
            "must be a float tensor of points, shape (n, 2)",
            f"shape {tuple(points.shape)}, dtype {points.dtype}",
            "pass e.g. torch.tensor([[-8.5, 7.5]]) (one row per point).",
            raw=True,
        )
    return points


def toy_losses(x: torch.Tensor) -> torch.Tensor:
    """The two task losses ``L1, L2`` at each point; differentiable with autograd.

    Parameters
    ----------
    x
        Points, shape ``(n, 2)``: columns ``x1, x2``.

    Returns
    -------
    torch.Tensor
        Losses, shape ``(n, 2)``: column ``t`` is task ``t``'s loss.
    """
    x = _as_points(x, "toy_losses")
    x1, x2 = x[:, 0], x[:, 1]  # (n,) each
    f1 = torch.clamp((0.5 * (-x1 - 7) - torch.tanh(-x2)).abs(), _LOWER).log() + 6
    f2 = torch.clamp((0.5 * (-x1 + 3) + torch.tanh(-x2) + 2).abs(), _LOWER).log() + 6
    g1 = ((-x1 + 7) ** 2 + 0.1 * (-x2 - 8) ** 2) / 10 - 20
    g2 = ((-x1 - 7) ** 2 + 0.1 * (-x2 - 8) ** 2) / 10 - 20
    c1 = torch.clamp(torch.tanh(x2 / 2), 0)
    c2 = torch.clamp(torch.tanh(-x2 / 2), 0)
    return torch.stack([f1 * c1 + g1 * c2, f2 * c1 + g2 * c2], dim=1)


def toy_gradients(x: torch.Tensor) -> torch.Tensor:
    """The gradient of each task's loss at each point: ``G`` for every point at once.

    Derived by hand from the formulas (the tests check it against autograd on
    :func:`toy_losses`); about three times faster than autograd here, which
    matters for thousands of steps.

    Parameters
    ----------
    x
        Points, shape ``(n, 2)``.

    Returns
    -------
    torch.Tensor
        Shape ``(n, 2, 2)``: ``[k, t]`` is the gradient of task ``t``'s loss
        at point ``k``, so ``result[k]`` is the ``(tasks, params)`` matrix
        that :mod:`mtl_teach.weighting` methods take.
    """
    x = _as_points(x, "toy_gradients")
    x1, x2 = x[:, 0], x[:, 1]  # (n,) each
    # Both tasks at once: rows of the (2, n) tensors below are task 1 and task 2.
    sign = torch.tensor([[1.0], [-1.0]], dtype=x.dtype)  # (2, 1): where the tasks differ by a sign
    centre = torch.tensor([[7.0], [-7.0]], dtype=x.dtype)  # (2, 1): g1 is centred on x1 = 7, g2 on -7
    t, t_half = torch.tanh(x2), torch.tanh(x2 / 2)  # (n,)
    h = -0.5 * x1 + sign * (t - 3.5)  # (2, n): f_t = log|h_t| + 6 (as tanh(-x2) = -tanh(x2))
    f = h.abs().clamp_min(_LOWER).log() + 6  # (2, n)
    inv = torch.where(h.abs() >= _LOWER, 1 / h, 0.0)  # d log|h| / dh; 0 where the floor holds
    g = (x1 - centre) ** 2 / 10 + 0.01 * (x2 + 8) ** 2 - 20  # (2, n)
    c1, c2 = t_half.clamp_min(0), (-t_half).clamp_min(0)  # (n,)
    dc = 0.5 * (1 - t_half**2)  # d tanh(x2 / 2) / dx2
    dc1, dc2 = dc * (x2 > 0), -dc * (x2 < 0)  # (n,)
    d_x1 = -0.5 * inv * c1 + (x1 - centre) / 5 * c2  # (2, n)
    d_x2 = sign * (1 - t * t) * inv * c1 + f * dc1 + 0.02 * (x2 + 8) * c2 + g * dc2  # (2, n)
    return torch.stack([d_x1, d_x2], dim=2).transpose(0, 1)  # (n, tasks, params)


def pareto_set(n_points: int = 1401) -> torch.Tensor:
    """Points on the Pareto set, for x1 from -7 to 7.

    There the two gradients point in opposite directions (their 2-D cross
    product is 0); for each x1, x2 is found by bisection in [-12, -6].

    Parameters
    ----------
    n_points
        How many points (evenly spaced in x1); at least 2.

    Returns
    -------
    torch.Tensor
        Shape ``(n_points, 2)``, float64.
    """
    if not is_integer(n_points) or n_points < 2:
        fail("pareto_set(n_points)", "must be an integer >= 2", n_points, "use the default, 1401.")
    n_points = int(n_points)
    x1 = torch.linspace(-7, 7, n_points, dtype=torch.float64)

    def cross(x2: torch.Tensor) -> torch.Tensor:
        G = toy_gradients(torch.stack([x1, x2], dim=1))  # (n, tasks, params)
        return G[:, 0, 0] * G[:, 1, 1] - G[:, 0, 1] * G[:, 1, 0]

    lo, hi = torch.full_like(x1, -12.0), torch.full_like(x1, -6.0)
    sign_lo = cross(lo).sign()
    for _ in range(60):
        mid = (lo + hi) / 2
        same = cross(mid).sign() == sign_lo
        lo, hi = torch.where(same, mid, lo), torch.where(same, hi, mid)
    return torch.stack([x1, (lo + hi) / 2], dim=1)


def distance_to_pareto_set(points: torch.Tensor) -> torch.Tensor:
    """Euclidean distance from each point to the Pareto set.

    Parameters
    ----------
    points
        Shape ``(n, 2)``.

    Returns
    -------
    torch.Tensor
        Shape ``(n,)``, float64; accurate to about 0.005 (the set is sampled
        every 0.01 in x1).
    """
    points = _as_points(points, "distance_to_pareto_set").double()
    curve = pareto_set()  # (m, 2)
    return torch.cdist(points, curve).min(dim=1).values


def optimize_toy(
    method: str | AggregationMethod,
    starts: Sequence[Sequence[float]] = STARTS,
    *,
    steps: int = 4000,
    lr: float = 1e-2,
    betas: tuple[float, float] = (0.9, 0.9),
) -> torch.Tensor:
    """Run Adam on the toy problem from several starting points with one aggregation method.

    All starting points move together as one ``(n, 2)`` tensor; Adam works
    coordinate by coordinate, so this is the same as ``n`` separate runs.
    At every step each point's two task gradients form its ``(2, 2)`` matrix
    ``G``, and ``method(G)`` gives that point's update direction.

    Parameters
    ----------
    method
        A name from :data:`mtl_teach.weighting.METHODS` or a function ``f(G)``.
    starts
        Starting points, shape ``(n, 2)``; default: the paper's three.
    steps
        Number of Adam steps.
    lr
        Adam's learning rate.
    betas
        Adam's ``(beta1, beta2)``; see the module docstring for why beta2 = 0.9.

    Returns
    -------
    torch.Tensor
        The trajectories, shape ``(steps + 1, n, 2)``, float64; ``[0]`` is ``starts``.
    """
    aggregate = get_method(method)
    if not is_integer(steps) or steps < 0:
        fail("optimize_toy(steps)", "must be an integer >= 0", steps, "use e.g. steps=4000.")
    if not is_number(lr) or not lr > 0:
        fail("optimize_toy(lr)", "must be a number > 0", lr, "use e.g. lr=1e-2.")
    steps, lr = int(steps), float(lr)
    x = _as_points(torch.as_tensor(starts, dtype=torch.float64), "optimize_toy").clone().requires_grad_(True)
    optimizer = torch.optim.Adam([x], lr=lr, betas=betas)
    trajectory = torch.empty(steps + 1, *x.shape, dtype=torch.float64)  # (steps + 1, n, 2)
    trajectory[0] = x.detach()
    where = f"optimize_toy(method={method if isinstance(method, str) else function_name(method)})"
    for step in range(1, steps + 1):
        G = toy_gradients(x.detach())  # (n, tasks, params)
        if step == 1:  # the method's first calls: checked as the Trainer checks a weighting's
            directions = [
                check_direction(where, call_once(where, aggregate, {"G": G[k]}, METHOD_FIX), G[k])
                for k in range(len(G))
            ]
        else:
            directions = [aggregate(G[k]) for k in range(len(G))]
        x.grad = torch.stack(directions)  # (n, 2)
        optimizer.step()
        trajectory[step] = x.detach()
    return trajectory
