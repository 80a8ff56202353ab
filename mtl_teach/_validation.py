"""Declarative argument checks: a table of rules, checked once, in the style of
scikit-learn's ``_parameter_constraints``.

A class lists ``{argument: rule}``; :func:`validate` fails on the first
argument that breaks its rule, with the usual message (parameter, rule,
value, fix). Each rule knows what it accepts and how to say so.

Numbers are read as Python reads them: a numpy integer (``np.int64(3)``,
what indexing an array or ``np.arange`` gives) is an integer, a numpy float
a number, and ``True`` is neither (:func:`is_integer`, :func:`is_number`).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from mtl_teach._errors import check_choice, fail


def is_integer(value: Any) -> bool:
    """Whether ``value`` is an integer: ``int`` or a numpy integer, not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def is_number(value: Any) -> bool:
    """Whether ``value`` is a real number: int, float or a numpy number, not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def as_list(where: str, value: Any, rule: str, fix: str) -> list[Any]:
    """``value`` read once into a list, or fail with ``rule`` and ``fix``.

    Any iterable is read, a generator too (a check that iterated it first
    would leave nothing for the work that follows); a string, a mapping or
    a non-iterable is refused.

    Parameters
    ----------
    where
        The parameter named in messages.
    value
        What was passed.
    rule, fix
        The message's rule and fix, e.g. ``"must be a list of task names"``.
    """
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        fail(where, rule, value, fix)
    return list(value)


def seed_list(where: str, seeds: Any) -> list[int]:
    """``seeds`` as a list of Python ints, read once (a generator or numpy array too), or a clear error.

    Parameters
    ----------
    where
        The parameter named in messages, e.g. ``"compare_sharing(seeds)"``.
    seeds
        An iterable of integers >= 0, e.g. ``range(5)``, ``[0, 3]``, ``np.arange(5)``.
    """
    if is_integer(seeds):
        # One number is ambiguous: five seeds, or seed 5? Say both ways instead of guessing.
        fail(
            where,
            "must be a list of seeds, one run per seed",
            seeds,
            f"pass seeds=range({seeds}) for {seeds} seeds (0 to {seeds - 1}), or seeds=[{seeds}] for seed {seeds} alone."
            if seeds > 0
            else "pass e.g. seeds=range(5).",
        )
    values = as_list(where, seeds, "must be a non-empty list of integers >= 0", "pass e.g. seeds=range(5).")
    if not values or not all(is_integer(s) and s >= 0 for s in values):
        fail(where, "must be a non-empty list of integers >= 0", values, "pass e.g. seeds=range(5).")
    return [int(s) for s in values]


@dataclass(frozen=True)
class Integer:
    """An integer ``>= low`` (``None`` too, when ``or_none``)."""

    low: int | None = None
    or_none: bool = False

    def check(self, name: str, value: Any, where: str) -> None:
        if value is None and self.or_none:
            return
        if is_integer(value) and (self.low is None or value >= self.low):
            return
        if self.low is None:
            fail(f"{where}({name})", "must be an integer or None", value, f"pass e.g. {name}=0.")
        fail(f"{where}({name})", f"must be an integer >= {self.low}", value, f"pass e.g. {name}={self.example(name)}.")

    def example(self, name: str) -> int:
        return 10 if name == "n_epochs" else max(self.low or 0, 1)


@dataclass(frozen=True)
class Number:
    """A finite number ``>= 0``; or, with ``positive_or_none``, a number ``> 0`` or None (off)."""

    example: float
    positive_or_none: bool = False

    def check(self, name: str, value: Any, where: str) -> None:
        if self.positive_or_none:
            if value is None or (is_number(value) and value > 0):
                return
            rule = "must be a number > 0, or None to switch clipping off"
        else:
            if is_number(value) and value >= 0 and not math.isinf(value):
                return
            rule = "must be a finite number >= 0"
        fail(f"{where}({name})", rule, value, f"pass e.g. {name}={self.example}.")


@dataclass(frozen=True)
class Boolean:
    """True or False (0, 1 and numpy bools too; not "no")."""

    def check(self, name: str, value: Any, where: str) -> None:
        # `in` rather than isinstance: 0, 1 and numpy bools are fine; "no" is not.
        if not isinstance(value, bool | int | np.bool_) or value not in (True, False):
            fail(f"{where}({name})", "must be True or False", value, f"pass {name}=True or {name}=False.")


@dataclass(frozen=True)
class Options:
    """One of a fixed set of names."""

    choices: tuple[str, ...]

    def check(self, name: str, value: Any, where: str) -> None:
        check_choice(f"{where}({name})", value, self.choices)


@dataclass(frozen=True)
class Rule:
    """Any other rule: ``accepts(value)``, with its own words and fix."""

    accepts: Callable[[Any], bool]
    rule: str
    fix: str

    def check(self, name: str, value: Any, where: str) -> None:
        if not self.accepts(value):
            fail(f"{where}({name})", self.rule, value, self.fix)


@dataclass(frozen=True)
class Check:
    """A rule with messages of its own: ``check_value(param, value)`` fails on a bad value."""

    check_value: Callable[[str, Any], None]

    def check(self, name: str, value: Any, where: str) -> None:
        self.check_value(f"{where}({name})", value)


Constraint = Integer | Number | Boolean | Options | Rule | Check


def validate(where: str, values: Any, constraints: Mapping[str, Constraint]) -> None:
    """Check each attribute of ``values`` named in ``constraints``, in table order.

    A numpy integer or float that passes is stored back as a Python ``int``
    or ``float`` (``object.__setattr__``, so frozen dataclasses too): what
    the rest of the kit (``random.seed``, reprs, JSON logs) expects.

    Parameters
    ----------
    where
        The owner named in messages, e.g. ``"Trainer"``.
    values
        The object whose attributes are checked.
    constraints
        Attribute name -> rule.
    """
    for name, constraint in constraints.items():
        value = getattr(values, name)
        constraint.check(name, value, where)
        if isinstance(constraint, Integer | Number) and type(value) not in (int, float) and is_number(value):
            object.__setattr__(values, name, int(value) if is_integer(value) else float(value))
