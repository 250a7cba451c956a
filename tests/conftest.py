"""Test configuration: shared fixtures are the plugins in tests/fixtures/ (session-scoped where building
them is costly); helper functions are modules in tests/helpers/, imported by name."""

pytest_plugins = [
    "fixtures.body",
    "fixtures.render",
    "fixtures.model",
    "fixtures.training",
    "fixtures.dynamics",
    "fixtures.hub",
    "fixtures.storage",
]
