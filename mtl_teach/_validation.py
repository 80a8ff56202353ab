"""Declarative argument checks: a table of rules, checked once, in the style of
scikit-learn's ``_parameter_constraints``.

A class lists ``{argument: rule}``; :func:`validate` fails on the first
argument that breaks its rule, with the usual message (parameter, rule,
value, fix). Each rule knows what it accepts and how to say so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from mtl_teach._errors import check_choice, fail


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Integer:
    """An integer ``>= low`` (``None`` too, when ``or_none``)."""

    low: int | None = None
    or_none: bool = False

    def check(self, name: str, value: Any, where: str) -> None:
        if value is None and self.or_none:
            return
        if _is_int(value) and (self.low is None or value >= self.low):
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
            if value is None or (isinstance(value, int | float) and value > 0):
                return
            rule = "must be a number > 0, or None to switch clipping off"
        else:
            if not isinstance(value, bool) and isinstance(value, int | float) and value >= 0 and not math.isinf(value):
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


Constraint = Integer | Number | Boolean | Options | Rule


def validate(where: str, values: Any, constraints: Mapping[str, Constraint]) -> None:
    """Check each attribute of ``values`` named in ``constraints``, in table order.

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
        constraint.check(name, getattr(values, name), where)
