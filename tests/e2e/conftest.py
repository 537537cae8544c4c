"""What every end-to-end module shares: an auto-consenting emulator, a live service running its
in-process worker, and a Qbo helper on the company connected at loc_1. A module overrides one of
these by defining a fixture of the same name."""

from __future__ import annotations

import pytest

from qbo_emulator.config import EmulatorConfig
from tests.e2e.sync_helpers import Qbo


@pytest.fixture
def emulator_config(auto_consent_config: EmulatorConfig) -> EmulatorConfig:
    return auto_consent_config


@pytest.fixture
def run_worker() -> bool:
    return True


@pytest.fixture
def qbo(emulator: str, connected_realm: str) -> Qbo:
    return Qbo(emulator, connected_realm)
