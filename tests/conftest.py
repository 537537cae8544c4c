pytest_plugins = [
    "tests.fixtures.db",
    "tests.fixtures.app",
    "tests.fixtures.events",
    "tests.fixtures.live",
    "tests.fixtures.connect",
    "tests.fixtures.crm_receiver",
    "tests.resilience.secret_scan",
]
