"""Slicing functions: vectorised masks that mark the points of a critical slice.

A *slicing function* (SF) takes the whole input array ``X`` of shape
``(n, d)`` and returns a boolean mask of shape ``(n,)``: True for the
points in its slice. Unlike Snorkel's SFs, which are called once per data
point, ours run once over the array, so marking 100 000 points is one numpy
expression instead of 100 000 Python calls.

:func:`apply_slicing_functions` turns a list of SFs into the *slice matrix*
``S``: a numpy record array with one 0/1 field per slice, plus ``base``
(all ones) for the whole data set, as in Snorkel. ``S["corner"]`` is one
column, ``S.dtype.names`` lists the slices, ``pandas.DataFrame(S)`` shows it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, overload

import numpy as np
import torch

from mtl_teach._errors import MTLConfigError, fail

BASE_SLICE = "base"  # the slice of every point, added to every slice matrix
SliceFunc = Callable[[np.ndarray], Any]


class SlicingFunction:
    """A named, vectorised slicing function.

    Parameters
    ----------
    name
        Slice name: becomes the column of the slice matrix and part of the
        task names ``{task}_slice:{name}_ind`` / ``_pred``.
    f
        ``f(X) -> mask``: gets the whole array ``X`` of shape ``(n, d)`` and
        returns a boolean array of shape ``(n,)`` (numpy or torch).

    Examples
    --------
    >>> corner = SlicingFunction("corner", lambda X: (X[:, 0] > 0.5) & (X[:, 1] > 0.5))
    >>> corner(np.array([[0.9, 0.9], [0.0, 0.9]]))
    array([ True, False])
    """

    def __init__(self, name: str, f: SliceFunc) -> None:
        _check_name(name)
        if not callable(f):
            fail(
                f"SlicingFunction({name!r}, f)",
                "must be a function f(X) -> boolean mask",
                f,
                "pass e.g. lambda X: X[:, 0] > 0.5.",
            )
        self.name = name
        self.f = f

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """Return this slice's boolean mask over ``X``, shape ``(len(X),)``."""
        X = _as_array(X, f"SlicingFunction({self.name!r})(X)")
        try:
            mask = self.f(X)
        except Exception as error:
            raise _raised(self.name, error) from error
        return _check_mask(self.name, mask, len(X))

    def __repr__(self) -> str:
        return f"SlicingFunction(name={self.name!r}, f={getattr(self.f, '__qualname__', type(self.f).__name__)})"


@overload
def slicing_function(f: SliceFunc, /) -> SlicingFunction: ...
@overload
def slicing_function(*, name: str | None = None) -> Callable[[SliceFunc], SlicingFunction]: ...
def slicing_function(f: SliceFunc | None = None, /, *, name: str | None = None) -> Any:
    """Decorator: turn ``f(X) -> boolean mask`` into a :class:`SlicingFunction`.

    Works bare (``@slicing_function``) or, as in Snorkel, called
    (``@slicing_function()`` or ``@slicing_function(name="corner")``). The
    slice is named after the function unless ``name`` is given.

    Examples
    --------
    >>> @slicing_function()
    ... def left_edge(X):
    ...     return X[:, 0] < -0.9
    >>> left_edge
    SlicingFunction(name='left_edge', f=left_edge)
    """

    def wrap(func: SliceFunc) -> SlicingFunction:
        if not callable(func):
            fail(
                "slicing_function",
                "must decorate a function f(X) -> boolean mask",
                func,
                "write @slicing_function() above a def.",
            )
        if name is None and getattr(func, "__name__", "") == "<lambda>":
            fail(
                "slicing_function(name)",
                "is needed for a lambda, which has no name of its own to name the slice",
                "<lambda>",
                'pass one: slicing_function(name="corner")(lambda X: ...), or use a def.',
                raw=True,
            )
        return SlicingFunction(name if name is not None else func.__name__, func)

    if f is not None:
        return wrap(f)
    return wrap


def apply_slicing_functions(sfs: Sequence[SlicingFunction], X: Any) -> np.recarray:
    """Run each slicing function once over ``X``; return the slice matrix ``S``.

    Parameters
    ----------
    sfs
        The slicing functions (names must differ, and not be ``"base"``).
    X
        Inputs of shape ``(n, d)``: a numpy array or a torch tensor (passed
        to the functions as numpy).

    Returns
    -------
    numpy.recarray
        Shape ``(n,)``, one int field per slice in the order given, then
        ``base`` (all ones). ``S[name]`` is 1 for the slice's points.
    """
    if isinstance(sfs, SlicingFunction):
        sfs = [sfs]
    if not isinstance(sfs, Sequence) or isinstance(sfs, str):
        fail(
            "apply_slicing_functions(sfs)",
            "must be a list of SlicingFunction objects",
            sfs,
            "pass e.g. [sf_corner, sf_edge].",
        )
    seen: set[str] = set()
    for sf in sfs:
        if not isinstance(sf, SlicingFunction):
            fail(
                "apply_slicing_functions(sfs)",
                "must hold SlicingFunction objects",
                sf,
                "decorate each function with @slicing_function().",
            )
        if sf.name in seen:
            fail(
                "apply_slicing_functions(sfs)",
                "must have distinct slice names",
                sf.name,
                "rename one of them: @slicing_function(name=...).",
            )
        seen.add(sf.name)
    X = _as_array(X, "apply_slicing_functions(X)")
    columns = [sf(X).astype(np.int64) for sf in sfs]
    columns.append(np.ones(len(X), dtype=np.int64))
    return np.rec.fromarrays(columns, names=[*(sf.name for sf in sfs), BASE_SLICE])


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not name:
        fail("SlicingFunction(name)", "must be a non-empty string", name, 'pass e.g. name="corner".')
    if name == BASE_SLICE:
        fail(
            "SlicingFunction(name)",
            "must not be 'base', the all-points slice that is added automatically",
            name,
            "choose another name.",
        )
    if "/" in name or "," in name:
        fail(
            "SlicingFunction(name)",
            "must not contain '/' or ',' (they separate score keys and record fields)",
            name,
            "use '_' instead.",
        )


def _as_array(X: Any, where: str) -> np.ndarray:
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    if not isinstance(X, np.ndarray):
        fail(
            where,
            "must be a numpy array or torch tensor of shape (n, d)",
            type(X).__name__,
            "convert it, e.g. np.asarray(X).",
            raw=True,
        )
    if X.ndim < 1:
        fail(
            where,
            "must have one row per data point, shape (n, d)",
            f"a 0-d array {X!r}",
            "pass the whole data set, not one point.",
            raw=True,
        )
    return X


VECTORISED = (
    "it gets the whole array X of shape (n, d) at once, so write a numpy expression over columns, e.g. X[:, 0] > 0.5"
)


def _raised(name: str, error: Exception) -> MTLConfigError:
    """The error to raise when slicing function ``name`` itself raised ``error``."""
    try:
        fail(
            f"Slicing function {name!r}",
            "must run without error on the whole input array X",
            f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}",
            f"{VECTORISED}; the error above shows where it failed.",
            raw=True,
        )
    except MTLConfigError as config_error:
        return config_error


def _check_mask(name: str, mask: Any, n: int) -> np.ndarray:
    where = f"Slicing function {name!r}"
    vectorised = VECTORISED
    if isinstance(mask, torch.Tensor):
        mask = mask.detach().cpu().numpy()
    if isinstance(mask, bool | np.bool_):
        fail(
            where,
            f"must return one boolean per point (shape ({n},))",
            f"a single {type(mask).__name__} {mask}",
            f"{vectorised}.",
            raw=True,
        )
    if not isinstance(mask, np.ndarray):
        fail(
            where, f"must return a numpy boolean array of shape ({n},)", type(mask).__name__, f"{vectorised}.", raw=True
        )
    if mask.shape != (n,):
        fail(
            where,
            f"must return a mask of shape ({n},), one entry per row of X",
            f"shape {mask.shape}",
            "return one value per row (use .ravel() if it is (n, 1)), not per feature.",
            raw=True,
        )
    if mask.dtype != np.bool_:
        fail(
            where,
            "must return a boolean mask (dtype bool)",
            f"dtype {mask.dtype}",
            "return a comparison such as X[:, 0] > 0.5, or convert with mask.astype(bool) if it holds only 0 and 1.",
            raw=True,
        )
    return mask
