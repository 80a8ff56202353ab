"""Combining the tasks' gradients on shared weights: equal weighting, PCGrad, MGDA, CAGrad.

Each task's loss has its own gradient on the shared trunk. Stack them as the
rows of a matrix ``G`` of shape ``(tasks, params)``; a method turns ``G`` into
one update direction of shape ``(params,)``. When the gradients agree, every
method goes roughly the same way; when they *conflict* (a negative dot
product, see :func:`cosine_similarity_matrix`), summing them can cancel
progress, and the methods differ in how they resolve it.

Every method is a plain function, so a student can run it on two hand-picked
vectors (``pcgrad(torch.tensor([[1.0, 0.0], [-1.0, 1.0]]))``). They follow
their papers' conventions, which differ in scale: ``equal`` and ``pcgrad``
*sum* the task gradients, ``mgda`` returns a convex combination (weights
summing to 1), ``cagrad`` works around the *mean* gradient. No method
modifies ``G``.

These are written out rather than taken from a library (TorchJD and LibMTL
have them): each is a few lines a student can read next to its paper, and the
kit needs no extra dependency at run time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from mtl_teach._errors import fail, names

Method = Callable[[torch.Tensor], torch.Tensor]


def _check(G: torch.Tensor, where: str) -> None:
    if not isinstance(G, torch.Tensor):
        fail(
            f"{where}(G)",
            "must be a torch.Tensor of shape (tasks, params)",
            type(G).__name__,
            "stack the task gradients: torch.stack([g1, g2]).",
            raw=True,
        )
    if G.dim() != 2 or G.shape[0] < 1 or G.shape[1] < 1:
        fail(
            f"{where}(G)",
            "must be 2-D, one row per task: shape (tasks, params)",
            f"shape {tuple(G.shape)}",
            "stack the flattened task gradients as rows, e.g. torch.stack([g1, g2]).",
            raw=True,
        )
    if not G.is_floating_point():
        fail(f"{where}(G)", "must hold floats", f"dtype {G.dtype}", "convert it with G.float().", raw=True)
    if not bool(torch.isfinite(G).all()):
        fail(
            f"{where}(G)",
            "must hold finite numbers (no NaN or inf)",
            "a gradient with NaN or inf",
            "lower the learning rate, or find where the loss became NaN.",
            raw=True,
        )


def equal(G: torch.Tensor) -> torch.Tensor:
    """The sum of the task gradients: what ``sum(losses).backward()`` gives.

    Parameters
    ----------
    G
        Task gradients, shape ``(tasks, params)``.

    Returns
    -------
    torch.Tensor
        ``G.sum(0)``, shape ``(params,)``.
    """
    _check(G, "equal")
    return G.sum(dim=0)


def pcgrad(G: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """PCGrad (Yu et al. 2020, "Gradient Surgery for Multi-Task Learning"), sum convention.

    For each task i, for each other task j in a random order: if ``g_i . g_j < 0``
    (they conflict), remove from ``g_i`` its component along ``g_j`` (the original
    ``g_j``): ``g_i <- g_i - (g_i . g_j / |g_j|^2) g_j``. Return the sum of the
    projected gradients. Gradients that agree are left as they are, so with no
    conflict PCGrad is :func:`equal`. With two tasks the order does not matter.

    Parameters
    ----------
    G
        Task gradients, shape ``(tasks, params)``.
    generator
        Random generator for the order of the other tasks (3 or more tasks);
        None uses the tasks' own order, 0, 1, 2, ... (reproducible).

    Returns
    -------
    torch.Tensor
        The update direction, shape ``(params,)``.
    """
    _check(G, "pcgrad")
    n_tasks = G.shape[0]
    projected = G.clone()  # (tasks, params); G itself stays as it was
    for i in range(n_tasks):
        order = torch.arange(n_tasks) if generator is None else torch.randperm(n_tasks, generator=generator)
        for j in order.tolist():
            if j == i:
                continue
            dot = projected[i] @ G[j]
            if dot < 0:
                projected[i] -= dot / (G[j] @ G[j]) * G[j]
    return projected.sum(dim=0)


def mgda_weights(G: torch.Tensor, *, steps: int = 250) -> torch.Tensor:
    """The weights of MGDA's min-norm point (Sener & Koltun 2018): ``w`` on the simplex minimising ``|w @ G|``.

    Two tasks have a closed form; more are solved by Frank-Wolfe with exact line search.

    Parameters
    ----------
    G
        Task gradients, shape ``(tasks, params)``.
    steps
        Frank-Wolfe iterations (3 or more tasks).

    Returns
    -------
    torch.Tensor
        Weights, shape ``(tasks,)``, >= 0, summing to 1.
    """
    _check(G, "mgda_weights")
    n_tasks = G.shape[0]
    gram = G @ G.T  # (tasks, tasks): all the dot products the problem needs
    if n_tasks == 1:
        return torch.ones(1, dtype=G.dtype)
    if n_tasks == 2:
        # min over a in [0, 1] of |a g1 + (1 - a) g2|^2
        difference = gram[0, 0] - 2 * gram[0, 1] + gram[1, 1]  # |g1 - g2|^2
        a = 0.5 if difference <= 0 else float(((gram[1, 1] - gram[0, 1]) / difference).clamp(0, 1))
        return torch.tensor([a, 1 - a], dtype=G.dtype)
    w = torch.full((n_tasks,), 1.0 / n_tasks, dtype=G.dtype)
    for _ in range(steps):
        t = int(torch.argmin(gram @ w))  # the vertex that lowers |w @ G|^2 most
        # exact line search on the segment from w to vertex t
        wGw, wGt, tGt = w @ gram @ w, gram[t] @ w, gram[t, t]
        denominator = wGw - 2 * wGt + tGt
        if denominator <= 1e-12:
            break
        step = float(((wGw - wGt) / denominator).clamp(0, 1))
        if step < 1e-9:
            break
        w = (1 - step) * w
        w[t] += step
    return w


def mgda(G: torch.Tensor) -> torch.Tensor:
    """MGDA (Sener & Koltun 2018): the min-norm point of the convex hull of the task gradients.

    It is a direction that lowers no task's loss less than it must: if the
    min-norm point is 0, no direction improves every task (a Pareto-stationary
    point). Convention: the convex combination itself (weights sum to 1).

    Parameters
    ----------
    G
        Task gradients, shape ``(tasks, params)``.

    Returns
    -------
    torch.Tensor
        ``mgda_weights(G) @ G``, shape ``(params,)``.
    """
    return mgda_weights(G) @ G


def cagrad(G: torch.Tensor, c: float = 0.5) -> torch.Tensor:
    """CAGrad (Liu et al. 2021, "Conflict-Averse Gradient Descent"), as in the authors' code.

    Around the mean gradient ``g0``, find the weights ``w`` on the simplex that
    minimise ``g_w . g0 + sqrt(phi) |g_w|`` with ``g_w = w @ G`` and
    ``phi = c^2 |g0|^2``, and move along ``d = g0 + sqrt(phi) / |g_w| g_w``: the
    direction within a ball of radius ``c |g0|`` around ``g0`` that best helps
    the task that gains least. Like the authors' default, ``d`` is divided by
    ``1 + c^2``. With ``c = 0`` it is the mean gradient.

    Parameters
    ----------
    G
        Task gradients, shape ``(tasks, params)``.
    c
        Radius of the ball around the mean gradient, relative to its norm (>= 0).

    Returns
    -------
    torch.Tensor
        The update direction, shape ``(params,)``.
    """
    _check(G, "cagrad")
    if isinstance(c, bool) or not isinstance(c, int | float) or not c >= 0:
        fail("cagrad(c)", "must be a number >= 0", c, "pass e.g. c=0.5 (the paper's default for most tasks).")
    from scipy.optimize import minimize  # scipy comes with scikit-learn; only needed here

    n_tasks = G.shape[0]
    g0 = G.mean(dim=0)  # (params,)
    radius = c * float(g0.norm())  # sqrt(phi)
    gram = (G @ G.T).double().numpy()  # (tasks, tasks)
    mean_weights = [1.0 / n_tasks] * n_tasks

    def objective(w):  # g_w . g0 + sqrt(phi) |g_w|, from dot products only
        return w @ gram @ mean_weights + radius * (w @ gram @ w + 1e-12) ** 0.5

    result = minimize(
        objective,
        mean_weights,
        bounds=[(0.0, 1.0)] * n_tasks,
        constraints=({"type": "eq", "fun": lambda w: 1.0 - w.sum()},),
    )
    g_w = torch.as_tensor(result.x, dtype=G.dtype) @ G
    direction = g0 + radius / (float(g_w.norm()) + 1e-12) * g_w
    return direction / (1 + c**2)


def cosine_similarity_matrix(G: torch.Tensor) -> torch.Tensor:
    """Cosine similarity between every pair of task gradients: > 0 they agree, < 0 they conflict.

    Parameters
    ----------
    G
        Task gradients, shape ``(tasks, params)``.

    Returns
    -------
    torch.Tensor
        Shape ``(tasks, tasks)``, 1 on the diagonal. A task whose gradient is
        zero (it has nothing to learn here) has cosine 0 with every other task.
    """
    _check(G, "cosine_similarity_matrix")
    norms = G.norm(dim=1, keepdim=True)  # (tasks, 1)
    unit = torch.where(norms > 0, G / norms.clamp_min(1e-30), torch.zeros_like(G))
    cosines = unit @ unit.T
    cosines.fill_diagonal_(1.0)
    return cosines.clamp(-1.0, 1.0)


METHODS: dict[str, Method] = {"equal": equal, "pcgrad": pcgrad, "mgda": mgda, "cagrad": cagrad}


def get_method(method: str | Method) -> Method:
    """The gradient method named ``method`` (or ``method`` itself, if it is a function).

    Parameters
    ----------
    method
        A name of :data:`METHODS`, or a function ``G -> direction``.

    Raises
    ------
    MTLConfigError
        For an unknown name, or something that is neither a name nor callable.
    """
    if callable(method):
        return method
    if not isinstance(method, str) or method not in METHODS:
        fail(
            "weighting method",
            f"must be one of {names(METHODS)}, or a function G -> direction",
            method,
            "pass a known name, e.g. 'pcgrad'.",
        )
    return METHODS[method]


__all__: Sequence[str] = [
    "METHODS",
    "cagrad",
    "cosine_similarity_matrix",
    "equal",
    "get_method",
    "mgda",
    "mgda_weights",
    "pcgrad",
]
