"""The student's own functions: checked when handed over, and at their first call.

A loss, an output function, a metric or a weighting function that a student
writes is called deep inside the kit, and then inside torch or numpy, so a
mistake in one surfaces as a message about tensors the student never made
("Boolean value of Tensor with more than one value is ambiguous"). Each is
checked in two steps, both here:

- :func:`check_function`, when it is handed over: a function, not a class
  (``nn.CrossEntropyLoss`` where ``nn.CrossEntropyLoss()`` was meant), that
  takes the arguments it will be given (``f(logits, labels)``);
- :func:`call_once`, for its first call, on a small batch: whatever it
  raises becomes an :class:`MTLConfigError` naming the function, the call
  with what each argument was (``logits: a tensor of shape (8, 2), float32``)
  and a fix; the original error stays chained below it.

What the function *returned* is checked by its caller, which knows what is
needed (:meth:`mtl_teach.Task.check_loss`, ...); :func:`describe` says in
words what came back. Later calls go straight to the function: the checks
cost one call per fit or predict, not one per batch.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from mtl_teach._errors import MTLConfigError, fail, names


def function_name(func: Any) -> str:
    """A function's name as a student would write it: ``cross_entropy``, ``CrossEntropyLoss()``, ``a lambda``."""
    if isinstance(func, type):
        return func.__name__
    name = getattr(func, "__name__", None)
    if name == "<lambda>":
        return "a lambda"
    if isinstance(name, str):
        return name
    return f"{type(func).__name__}()"  # an object with __call__, e.g. an nn.Module's instance


def describe(value: Any) -> str:
    """What ``value`` is, in words: ``a tensor of shape (8, 2), float32``, ``a float (0.69)``, ``None``."""
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}, {str(value.dtype).removeprefix('torch.')}"
    if isinstance(value, np.ndarray):
        return f"a numpy array of shape {value.shape}, {value.dtype}"
    if value is None:
        return "None"
    if isinstance(value, bool | int | float | np.number):
        return f"a {type(value).__name__} ({value!r})"
    if isinstance(value, Mapping):
        return f"a dict with keys {names(value)}"
    if isinstance(value, list | tuple):
        return f"a {type(value).__name__} of {len(value)}"
    return f"a {type(value).__name__}"


def check_function(where: str, func: Any, call: str, n_args: int, fix: str) -> None:
    """Fail unless ``func`` is a function (not a class) that ``call`` can call with ``n_args`` arguments.

    Parameters
    ----------
    where
        What is checked, e.g. ``"Task('circle_task') loss_func"``.
    func
        The student's function.
    call
        How it will be called, e.g. ``"loss_func(logits, labels)"``.
    n_args
        How many positional arguments that call passes.
    fix
        What to pass instead, e.g. ``"pass F.cross_entropy (the default)"``.
    """
    if isinstance(func, type):
        # Calling a class builds an object: nn.CrossEntropyLoss(logits, labels) takes the
        # logits as its class weights and fails much later with a message about booleans.
        fail(
            where,
            f"must be a function {call}, not a class",
            func.__name__,
            f"create one and pass it: {func.__name__}() instead of {func.__name__}.",
            raw=True,
        )
    if not callable(func):
        fail(where, f"must be a function {call}", func, fix)
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):  # some builtins have none: their first call will tell
        return
    try:
        signature.bind(*range(n_args))
    except TypeError:
        plural = "s" if n_args != 1 else ""
        fail(
            where,
            f"must take {n_args} argument{plural}, as in {call}",
            f"{function_name(func)}{signature}",
            fix,
            raw=True,
        )


def call_once(where: str, func: Callable[..., Any], args: Mapping[str, Any], fix: str, *, name: str = "f") -> Any:
    """``func(*args.values())``; an error raised inside it is explained and re-raised as :class:`MTLConfigError`.

    ``NotImplementedError`` passes through as it is: an exercise's stub, "not attempted".

    Parameters
    ----------
    where
        The function, as named in messages, e.g. ``"Task 'circle_task' loss_func (a lambda)"``.
    func
        The student's function.
    args
        Argument name -> value, in call order; described in the message when it fails.
    fix
        The message's fix.
    name
        The function's name in the call shown, e.g. ``"loss_func"``.
    """
    try:
        return func(*args.values())
    except (MTLConfigError, NotImplementedError):
        # Already ours (a kit function the student's code called), or an exercise's stub not
        # written yet, which the exercises and the grader tell apart as "not attempted".
        raise
    except Exception as error:
        lines = str(error).strip().splitlines()
        what = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
        shown = "; ".join(f"{arg}: {describe(value)}" for arg, value in args.items())
        fail(
            where,
            f"raised an error when called as {name}({', '.join(args)}) ({shown})",
            what if len(what) <= 300 else what[:297] + "...",
            fix,
            raw=True,
            cause=error,
        )


__all__ = ["call_once", "check_function", "describe", "function_name"]
