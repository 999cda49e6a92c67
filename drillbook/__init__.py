"""drillbook: disaster-recovery drills as pytest suites that measure RTO and RPO."""

__version__ = "0.1.0"


def discover(discover_system: bool = True) -> dict[str, object]:
    """`chaos discover --no-install drillbook`: chaoslib looks for `discover` in the
    distribution's top-level package; the Chaos Toolkit extension is drillbook.chaos (needs
    the `chaos` extra), imported only when asked."""
    from drillbook.chaos import discover as discover_activities

    return discover_activities(discover_system=discover_system)
