"""One shape for every input error: parameter, rule, value received, fix.

Students read these messages in a notebook, so each one says what went wrong
in plain words *before* torch would fail somewhere deep inside.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NoReturn


class MTLConfigError(ValueError):
    """A bad argument or bad data given to mtl_teach (a ``ValueError``)."""


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def names(items: Iterable[Any]) -> str:
    """Format a collection of names as ``'a', 'b', 'c'`` (sorted, quoted)."""
    listed = sorted(str(item) for item in items)
    return ", ".join(repr(item) for item in listed) if listed else "(none)"


def fail(
    param: str, rule: str, value: Any, fix: str, *, raw: bool = False, cause: BaseException | None = None
) -> NoReturn:
    """Raise :class:`MTLConfigError` as ``param: rule; got value. Fix: fix``.

    Parameters
    ----------
    param
        The argument (or data field) at fault, e.g. ``"Trainer(n_epochs)"``.
    rule
        What the value must satisfy.
    value
        What was received; shown with ``repr`` unless ``raw`` is true.
    fix
        One sentence on how to fix it.
    raw
        Show ``value`` as given (already formatted) instead of its ``repr``.
    cause
        The exception this one explains (e.g. what a student's function
        raised); chained, so its traceback is still shown.
    """
    shown = value if raw else _short(value)
    error = MTLConfigError(f"{param} {rule}; got {shown}. Fix: {fix}")
    if cause is None:
        raise error  # not `from None`, which would hide the exception being handled, if any
    raise error from cause


def check_choice(param: str, value: Any, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else fail listing them."""
    options = tuple(choices)
    if value not in options:
        fail(
            param,
            f"must be one of {names(options)}",
            value,
            f"pass one of {names(options)}.",
        )
    return value


def import_pandas(feature: str, *, instead: str = "call it without as_dataframe") -> Any:
    """Import pandas for ``feature`` (e.g. ``"score(as_dataframe=True)"``), or say how to get it.

    Parameters
    ----------
    feature
        What needs pandas, named in the message.
    instead
        What to do without pandas, the fix's second half.
    """
    try:
        import pandas
    except ImportError as error:
        raise ImportError(
            f"{feature} needs pandas, which is not installed. Fix: pip install pandas, or {instead}."
        ) from error
    return pandas
