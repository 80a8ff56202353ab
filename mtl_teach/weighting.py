"""Gradient aggregation: turn the tasks' gradients into one update direction.

A shared trunk receives one gradient per task. Stack them as the rows of a
matrix ``G`` of shape ``(tasks, params)``; every method here maps ``G`` to one
direction ``d`` of shape ``(params,)``, the value to put in ``.grad`` before
``optimizer.step()`` (the optimizer then moves along ``-d``). Each method is a
plain function, so you can try it on two hand-picked vectors::

    >>> import torch
    >>> from mtl_teach.weighting import pcgrad
    >>> G = torch.tensor([[1.0, 0.0], [-1.0, 1.0]])  # g1 . g2 = -1 < 0: a conflict
    >>> pcgrad(G)
    tensor([0.5000, 1.5000])

========  ==========================  ===============================================
method    paper                       scale of the returned direction
========  ==========================  ===============================================
equal     (the baseline)              sum of the rows: the gradient of the summed losses
pcgrad    Yu et al. 2020              sum of the projected rows (the paper's Algorithm 1)
mgda      Sener & Koltun 2018         min-norm convex combination: weights sum to 1
cagrad    Liu et al. 2021             around the MEAN gradient g0, not rescaled
========  ==========================  ===============================================

Each method keeps its paper's scale, so with identical agreeing gradients
``equal`` and ``pcgrad`` return T times what ``mgda`` and ``cagrad(c=0)``
return. Under Adam a constant factor changes almost nothing (Adam divides by
the gradient's running size); under SGD it acts as a change of learning rate.

At run time the kit uses these functions, not a library: they are short
enough to read, and they add no dependency. The tests cross-check ``pcgrad``
and ``mgda`` against TorchJD (``torchjd==0.18.0``, in the ``test`` extra only).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from numbers import Real
from types import MappingProxyType

import torch

from mtl_teach._errors import fail, names
from mtl_teach._probe import check_function, describe

AggregationMethod = Callable[[torch.Tensor], torch.Tensor]

# Exact minimum-norm weights (MGDA) try every subset of tasks: 2**T - 1 small
# solves. Up to this many tasks that is fast; beyond it we iterate instead.
_MAX_TASKS_EXACT = 6


# ---------------------------------------------------------------- input checks


def _check_gradients(G: object, who: str) -> torch.Tensor:
    """Return ``G`` if it is a finite, floating-point ``(tasks, params)`` tensor."""
    param = f"{who}(G)"
    if not isinstance(G, torch.Tensor):
        fail(
            param,
            "must be a torch.Tensor of shape (tasks, params)",
            type(G).__name__,
            "stack the task gradients: G = torch.stack([g1, g2]).",
            raw=True,
        )
    if G.ndim != 2:
        fail(
            param,
            "must be 2-D, shape (tasks, params): one row per task",
            f"shape {tuple(G.shape)}",
            "stack the flattened task gradients: G = torch.stack([g1.flatten(), g2.flatten()]).",
            raw=True,
        )
    if not G.dtype.is_floating_point:
        fail(param, "must hold floating-point numbers", G.dtype, "convert it with G.float().")
    if G.shape[0] < 1:
        fail(param, "must have at least 1 task (row)", f"shape {tuple(G.shape)}", "pass one row per task.", raw=True)
    if G.shape[1] < 1:
        fail(
            param,
            "must have at least 1 parameter (column)",
            f"shape {tuple(G.shape)}",
            "pass the gradients on the shared parameters.",
            raw=True,
        )
    finite = torch.isfinite(G).all(dim=1)  # (tasks,)
    if not bool(finite.all()):
        bad = (~finite).nonzero().flatten().tolist()
        fail(
            param,
            "must be finite (no NaN or inf)",
            f"NaN/inf in the gradient of task row(s) {bad}",
            "find why that task's loss is not finite (too high a learning rate, bad labels, log(0)).",
            raw=True,
        )
    return G


def _check_c(c: object) -> float:
    if isinstance(c, bool) or not isinstance(c, Real) or not math.isfinite(float(c)) or c < 0:
        fail("cagrad(c)", "must be a finite number >= 0", c, "use c=0.5 (the paper's default); c=0 gives the mean.")
    return float(c)


# ---------------------------------------------------------------- the methods


def equal(G: torch.Tensor) -> torch.Tensor:
    """Equal weighting: the sum of the task gradients (the baseline).

    This is what ``sum(losses).backward()`` computes.

    Parameters
    ----------
    G
        Task gradients, shape ``(tasks, params)``.

    Returns
    -------
    torch.Tensor
        ``G.sum(0)``, shape ``(params,)``.
    """
    G = _check_gradients(G, "equal")
    return G.sum(dim=0)


def pcgrad(G: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """PCGrad, "gradient surgery" (Yu et al. 2020): remove the conflicting parts, then sum.

    For each task ``i``, visit the other tasks ``j`` in a random order; if
    ``g_i . g_j < 0`` (they conflict), project ``g_i`` onto the plane normal
    to ``g_j``: ``g_i <- g_i - (g_i . g_j / |g_j|^2) g_j``, always with the
    ORIGINAL ``g_j``. Return the sum of the projected gradients (the paper's
    convention). Without any conflict this is :func:`equal`.

    With two tasks there is only one other task, so the order cannot matter
    and no random number is drawn. With three or more the result can depend
    on the order (see the tests for a hand-worked example).

    Parameters
    ----------
    G
        Task gradients, shape ``(tasks, params)``; never modified.
    generator
        Source of the random orders. ``None`` uses torch's global generator,
        so ``mtl_teach.set_seed`` makes runs repeatable, as in the paper and
        TorchJD; pass a ``torch.Generator`` to keep the orders separate.

    Returns
    -------
    torch.Tensor
        The update direction, shape ``(params,)``.
    """
    G = _check_gradients(G, "pcgrad")
    if generator is not None and not isinstance(generator, torch.Generator):
        fail(
            "pcgrad(generator)",
            "must be a torch.Generator or None",
            generator,
            "pass torch.Generator().manual_seed(0).",
        )
    n_tasks = G.shape[0]
    orders = [_other_tasks_in_random_order(i, n_tasks, generator) for i in range(n_tasks)]
    return _pcgrad_in_order(G, orders)


def _other_tasks_in_random_order(i: int, n_tasks: int, generator: torch.Generator | None) -> list[int]:
    others = [j for j in range(n_tasks) if j != i]
    if len(others) < 2:
        return others  # nothing to shuffle: leave the random stream untouched
    return [j for j in torch.randperm(n_tasks, generator=generator).tolist() if j != i]


def _pcgrad_in_order(G: torch.Tensor, orders: Sequence[Sequence[int]]) -> torch.Tensor:
    """PCGrad with given orders: ``orders[i]`` lists the tasks that task ``i`` is projected against."""
    projected = G.clone()  # (tasks, params); G itself is never written to
    for i, order in enumerate(orders):
        for j in order:
            dot = projected[i] @ G[j]  # scalar
            if dot < 0:  # conflict (and so G[j] is not zero)
                projected[i] = projected[i] - dot / (G[j] @ G[j]) * G[j]
    return projected.sum(dim=0)


def mgda(G: torch.Tensor) -> torch.Tensor:
    """MGDA (Sener & Koltun 2018): the shortest vector in the convex hull of the task gradients.

    Finds weights ``w >= 0`` with ``sum(w) = 1`` minimising ``|w @ G|`` and
    returns ``w @ G``. Following the paper (and TorchJD, LibMTL), the weights
    sum to 1: the result is NOT multiplied by the number of tasks. Moving
    along ``-d`` decreases every task's loss (``g_t . d >= |d|^2``); ``d = 0``
    means no such direction exists: the point is Pareto-stationary.

    Two tasks have a closed form, ``w1 = clamp((g2 - g1) . g2 / |g1 - g2|^2, 0, 1)``.
    Up to 6 tasks the weights are exact (every subset of tasks is tried as
    the support of ``w``); beyond that they come from projected gradient
    descent on the simplex (in the tests it agrees with the exact answer to 1e-7).

    Parameters
    ----------
    G
        Task gradients, shape ``(tasks, params)``.

    Returns
    -------
    torch.Tensor
        The min-norm direction, shape ``(params,)``.
    """
    G = _check_gradients(G, "mgda")
    weights = _min_norm_weights(_gram(G))  # (tasks,), float64
    return weights.to(G.dtype) @ G


def cagrad(G: torch.Tensor, c: float = 0.5) -> torch.Tensor:
    """CAGrad (Liu et al. 2021): the mean gradient, bent towards the task that is worst off.

    With ``g0`` the mean gradient and ``sqrt(phi) = c |g0|``, find weights
    ``w`` on the simplex minimising ``g_w . g0 + sqrt(phi) |g_w|`` where
    ``g_w = w @ G``, and return ``d = g0 + sqrt(phi) / |g_w| * g_w``. This
    ``d`` maximises the smallest task improvement ``min_t g_t . d`` among all
    directions within ``c |g0|`` of ``g0``. ``c = 0`` gives the mean gradient.

    Scale: ``d`` is returned as in the paper's Algorithm 1, without rescaling.
    The official code rescales in different places: its ``toy.py`` returns
    ``d / (1 + c)``, its NYUv2 and MTRL code (and LibMTL) default to
    ``d / (1 + c^2)``. These are constant factors: under Adam they barely
    matter, under SGD they are a learning-rate change. If ``g_w = 0`` (the
    gradients can cancel: a Pareto-stationary point), ``d = g0``, the limit
    the official code's small guard also gives.

    Two tasks have a closed form; more tasks are solved by projected gradient
    descent on the simplex.

    Parameters
    ----------
    G
        Task gradients, shape ``(tasks, params)``.
    c
        Radius of the ball around ``g0``, relative to ``|g0|``; ``c >= 0``.
        The paper uses 0.5 (larger: more conflict-averse, further from ``g0``).

    Returns
    -------
    torch.Tensor
        The update direction, shape ``(params,)``.
    """
    G = _check_gradients(G, "cagrad")
    c = _check_c(c)
    gram = _gram(G)  # (tasks, tasks), float64
    g0 = G.mean(dim=0)  # (params,)
    sqrt_phi = c * math.sqrt(max(gram.mean().item(), 0.0))  # c |g0|, as |g0|^2 = mean of the Gram matrix
    if sqrt_phi == 0.0:
        return g0
    weights = _cagrad_weights(gram, sqrt_phi)  # (tasks,), float64
    gw_norm = math.sqrt(max((weights @ gram @ weights).item(), 0.0))
    if gw_norm == 0.0:
        return g0
    g_w = weights.to(G.dtype) @ G  # (params,)
    return g0 + (sqrt_phi / gw_norm) * g_w


# ---------------------------------------------------------------- diagnostics


def cosine_similarity_matrix(G: torch.Tensor) -> torch.Tensor:
    """Pairwise cosines between the task gradients: ``(T, T)``, in ``[-1, 1]``.

    Entry ``[i, j]`` is ``g_i . g_j / (|g_i| |g_j|)``: positive when tasks
    ``i`` and ``j`` pull the shared weights the same way, negative when they
    conflict. A task whose gradient is exactly zero neither agrees nor
    conflicts: its row and column are 0, including its diagonal entry (every
    other diagonal entry is 1). No NaN ever appears.

    Parameters
    ----------
    G
        Task gradients, shape ``(tasks, params)``.

    Returns
    -------
    torch.Tensor
        Cosine matrix, shape ``(tasks, tasks)``, dtype of ``G``.
    """
    G = _check_gradients(G, "cosine_similarity_matrix")
    norms = G.norm(dim=1, keepdim=True)  # (tasks, 1)
    nonzero = norms > 0
    unit = torch.where(nonzero, G / torch.where(nonzero, norms, torch.ones_like(norms)), torch.zeros_like(G))
    cos = (unit @ unit.T).clamp(-1.0, 1.0)  # (tasks, tasks)
    cos.diagonal().copy_(nonzero.flatten().to(G.dtype))  # exactly 1 (or 0 for a zero gradient)
    return cos


# ---------------------------------------------------------------- registry

METHODS: Mapping[str, AggregationMethod] = MappingProxyType(
    {"equal": equal, "pcgrad": pcgrad, "mgda": mgda, "cagrad": cagrad}
)


METHOD_FIX = "write it as f(G) -> direction: G of shape (tasks, params) in, one vector of shape (params,) out."


def check_method(where: str, method: object) -> None:
    """Fail unless ``method`` is a function that takes one argument, ``G`` (not a class).

    Parameters
    ----------
    where
        The parameter named in messages, e.g. ``"Trainer(weighting)"``.
    method
        Your aggregation function.
    """
    check_function(where, method, "f(G)", 1, METHOD_FIX)


def check_direction(where: str, direction: object, G: torch.Tensor) -> torch.Tensor:
    """Return ``direction`` if it is what an aggregation of ``G`` must return: finite numbers, shape ``(params,)``.

    The Trainer (on every step) and :func:`mtl_teach.toy_objectives.optimize_toy`
    (on its first) check your function's result with it, before it goes into ``.grad``.

    Parameters
    ----------
    where
        The function as named in messages, e.g. ``"Trainer(weighting=my_pcgrad)"``.
    direction
        What ``f(G)`` returned.
    G
        The gradients it was given, shape ``(tasks, params)``.
    """
    if not isinstance(direction, torch.Tensor) or direction.shape != G.shape[1:]:
        fail(
            where,
            f"must return a tensor of shape ({G.shape[1]},), one entry per shared parameter, for G of "
            f"shape {tuple(G.shape)}",
            describe(direction),
            "return one direction vector (e.g. the sum of the projected rows), not a matrix or a list.",
            raw=True,
        )
    if not bool(torch.isfinite(direction).all()):
        fail(
            where,
            "must return finite numbers",
            "NaN or inf",
            "check for a division by a norm that can be 0 (only project when the dot product is < 0).",
            raw=True,
        )
    return direction


def get_method(name_or_callable: str | AggregationMethod) -> AggregationMethod:
    """Look up an aggregation method by name, or pass a function through.

    Parameters
    ----------
    name_or_callable
        A name from :data:`METHODS` ('cagrad', 'equal', 'mgda', 'pcgrad'), or
        your own function ``f(G) -> direction``.

    Returns
    -------
    Callable
        The function ``f(G)``, ``G`` of shape ``(tasks, params)``.
    """
    if callable(name_or_callable):
        check_method("get_method(name_or_callable)", name_or_callable)
        return name_or_callable
    if isinstance(name_or_callable, str) and name_or_callable in METHODS:
        return METHODS[name_or_callable]
    fail(
        "get_method(name_or_callable)",
        f"must be one of {names(METHODS)} or a function f(G)",
        name_or_callable,
        f"pick one of {names(METHODS)}, or pass your own function.",
    )


# ---------------------------------------------------------------- solvers (float64)


def _gram(G: torch.Tensor) -> torch.Tensor:
    """``G @ G.T`` in float64: all dot products between task gradients, shape ``(tasks, tasks)``."""
    G64 = G.double()
    return G64 @ G64.T


def _min_norm_weights(gram: torch.Tensor) -> torch.Tensor:
    """Weights on the simplex minimising ``w @ gram @ w`` (shape ``(tasks,)``)."""
    n_tasks = gram.shape[0]
    if n_tasks == 1:
        return torch.ones(1, dtype=gram.dtype, device=gram.device)
    if n_tasks == 2:
        # |w1 g1 + (1 - w1) g2|^2 is a parabola in w1; its minimum, clipped to [0, 1].
        (k11, k12), (_, k22) = gram.tolist()
        spread = k11 + k22 - 2 * k12  # |g1 - g2|^2
        w1 = 0.5 if spread <= 0 else min(max((k22 - k12) / spread, 0.0), 1.0)
        return torch.tensor([w1, 1.0 - w1], dtype=gram.dtype, device=gram.device)
    if n_tasks <= _MAX_TASKS_EXACT:
        return _min_norm_weights_exact(gram)
    return _minimize_on_simplex(lambda w: (w @ gram @ w, 2 * gram @ w), n_tasks, gram)


def _min_norm_weights_exact(gram: torch.Tensor) -> torch.Tensor:
    # The min-norm point lies inside some face of the hull; on that face's
    # support S it is the min-norm point of the affine hull of {g_s, s in S},
    # the solution of the linear system  gram[S, S] w + mu 1 = 0,  sum(w) = 1.
    # Solve it for every S (all supports of one size in one batched call) and
    # keep the shortest candidate whose weights are >= 0.
    n_tasks = gram.shape[0]
    best, best_norm2 = None, math.inf
    for size in range(1, n_tasks + 1):
        supports = torch.tensor(list(itertools.combinations(range(n_tasks), size)))  # (S, size)
        n_supports = len(supports)
        system = torch.zeros(n_supports, size + 1, size + 1, dtype=gram.dtype)
        system[:, :size, :size] = gram.cpu()[supports[:, :, None], supports[:, None, :]]
        system[:, :size, size] = 1.0
        system[:, size, :size] = 1.0
        rhs = torch.zeros(n_supports, size + 1, 1, dtype=gram.dtype)
        rhs[:, size] = 1.0
        w_s = torch.linalg.lstsq(system, rhs, driver="gelsd").solution[:, :size, 0]  # (S, size)
        feasible = (w_s >= -1e-12).all(dim=1) & ((w_s.sum(dim=1) - 1.0).abs() < 1e-9)
        if not feasible.any():
            continue
        w = torch.zeros(n_supports, n_tasks, dtype=gram.dtype).scatter(1, supports, w_s.clamp_min(0.0))
        w = w / w.sum(dim=1, keepdim=True)  # (S, tasks)
        norm2 = torch.einsum("si,ij,sj->s", w, gram.cpu(), w).masked_fill(~feasible, math.inf)  # (S,)
        i = int(norm2.argmin())
        if norm2[i].item() < best_norm2 - 1e-15:  # a larger support must be strictly shorter
            best, best_norm2 = w[i], norm2[i].item()
    assert best is not None  # a single task is always a feasible support
    return best.to(gram.device)


def _cagrad_weights(gram: torch.Tensor, sqrt_phi: float) -> torch.Tensor:
    """Weights on the simplex minimising ``g_w . g0 + sqrt_phi |g_w|`` (shape ``(tasks,)``)."""
    n_tasks = gram.shape[0]
    if n_tasks == 1:
        return torch.ones(1, dtype=gram.dtype, device=gram.device)
    if n_tasks == 2:
        return _cagrad_weights_two_tasks(gram, sqrt_phi)
    b = gram.mean(dim=1)  # (tasks,): b_t = g_t . g0

    def objective(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        norm = (w @ gram @ w).clamp_min(1e-30).sqrt()
        return w @ b + sqrt_phi * norm, b + sqrt_phi * (gram @ w) / norm

    return _minimize_on_simplex(objective, n_tasks, gram)


def _cagrad_weights_two_tasks(gram: torch.Tensor, sqrt_phi: float) -> torch.Tensor:
    # With w = (x, 1 - x) and u = g1 - g2, the objective is
    #   F(x) = a x + sqrt_phi * sqrt(A x^2 + 2 B x + C) + const,
    #   a = (g1 - g2) . g0,  A = |u|^2,  B = u . g2,  C = |g2|^2,
    # convex in x. Writing y = A x + B, the square root is sqrt((y^2 + D) / A)
    # with D = A C - B^2 >= 0, and F'(x) = 0 reads y / sqrt(y^2 + D) = k with
    # k = -a / (sqrt_phi sqrt(A)). If |k| >= 1, F is monotone on [0, 1].
    (k11, k12), (_, k22) = gram.tolist()
    a = (k11 - k22) / 2  # g1 . g0 - g2 . g0, with g0 = (g1 + g2) / 2
    A, B, C = k11 + k22 - 2 * k12, k12 - k22, k22
    if A <= 0:  # g1 == g2: every x gives the same direction
        x = 0.5
    else:
        k = -a / (sqrt_phi * math.sqrt(A))
        if k >= 1:
            x = 1.0  # F decreasing on [0, 1]
        elif k <= -1:
            x = 0.0  # F increasing
        else:
            D = max(A * C - B * B, 0.0)
            y = k * math.sqrt(D / (1 - k * k))
            x = min(max((y - B) / A, 0.0), 1.0)
    return torch.tensor([x, 1.0 - x], dtype=gram.dtype, device=gram.device)


def _project_onto_simplex(v: torch.Tensor) -> torch.Tensor:
    """Closest point to ``v`` with entries >= 0 summing to 1 (sort-based, Duchi et al. 2008)."""
    u, _ = torch.sort(v, descending=True)
    cumulative = u.cumsum(0) - 1.0
    ks = torch.arange(1, len(v) + 1, dtype=v.dtype, device=v.device)
    rho = int((u - cumulative / ks > 0).nonzero().max())  # last index where the condition holds
    theta = cumulative[rho] / (rho + 1)
    return (v - theta).clamp_min(0.0)


def _minimize_on_simplex(
    objective: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    n_tasks: int,
    gram: torch.Tensor,
    max_iter: int = 2000,
) -> torch.Tensor:
    """Projected gradient descent with backtracking for a convex ``objective(w) -> (value, gradient)``."""
    w = torch.full((n_tasks,), 1.0 / n_tasks, dtype=gram.dtype, device=gram.device)
    step = 1.0 / max(torch.linalg.matrix_norm(gram, ord=2).item(), 1e-30)
    value, grad = objective(w)
    for _ in range(max_iter):
        while True:  # shrink the step until the objective decreases enough
            candidate = _project_onto_simplex(w - step * grad)
            new_value, new_grad = objective(candidate)
            moved = candidate - w
            if new_value <= value + grad @ moved + (moved @ moved) / (2 * step) or step < 1e-20:
                break
            step /= 2
        converged = moved.abs().max().item() < 1e-12
        w, value, grad = candidate, new_value, new_grad
        if converged:
            break
        step *= 1.5  # let the step grow again
    return w
