"""Top-level conftest: the drills' own fixtures (the drillbook plugin loads by entry point)."""

pytest_plugins = ["fixtures.components", "fixtures.secrets"]
