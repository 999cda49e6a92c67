"""drillbook: disaster-recovery drills as pytest suites that measure RTO and RPO."""

__version__ = "0.1.0"
