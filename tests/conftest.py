"""Keep a module's shared fixtures on one pytest-xdist worker, and spread every other test.

The test command runs ``pytest -n 2 --dist loadgroup``. A module whose tests
share a fixture wider than one test (the grading batch, a trained model) is
one xdist group, so its fixture is built once; every other test goes to
whichever worker is free. Whole-module scheduling (``loadscope``) left one
worker idle for the last ~100 s while the other ran the long lesson modules.
"""

from __future__ import annotations

import pytest

SHARED = ("module", "package", "session")


def _shares_a_fixture(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    return info is not None and any(
        definition.scope in SHARED and definition.baseid  # "": pytest's own (tmp_path_factory, ...)
        for definitions in info.name2fixturedefs.values()
        for definition in definitions
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # the whole module, not only the tests that use the fixture: the grading tests also stay off
    # each other's CPU (two batches side by side would squeeze their time limits)
    grouped = {item.path for item in items if _shares_a_fixture(item)}
    for item in items:
        if item.path in grouped:
            item.add_marker(pytest.mark.xdist_group(item.path.stem))
