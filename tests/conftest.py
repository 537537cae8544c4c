from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = [
    "tests.fixtures.db",
    "tests.fixtures.app",
    "tests.fixtures.events",
    "tests.fixtures.live",
    "tests.fixtures.connect",
    "tests.fixtures.crm_receiver",
    "tests.resilience.secret_scan",
]

# Directories left out of the fast loop (`pytest -m "not slow"`) as a whole: their tests start
# processes (the CLI in ops), a browser, a whole service with its worker, or send hundreds of
# generated requests. CI runs everything. Elsewhere a slow test says so with @pytest.mark.slow.
SLOW_DIRECTORIES = frozenset({"resilience", "browser", "e2e", "ops"})
TESTS = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(TESTS):
            top = item.path.relative_to(TESTS).parts[0]
            if top in SLOW_DIRECTORIES:
                item.add_marker(pytest.mark.slow)
