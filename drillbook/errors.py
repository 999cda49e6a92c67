"""The error family of drillbook.

One root (`DrillError`) so that callers can catch everything drillbook raises; "invalid"
errors are raised before anything is injected, "failed" errors while a drill runs. Every
message says what was found, what was expected and how to fix it.
"""

from __future__ import annotations


class DrillError(Exception):
    """Root of every error drillbook raises on purpose."""


class InvalidDrill(DrillError):
    """Raised before anything is injected: bad configuration, unknown platform or scenario."""


class ConfigError(InvalidDrill):
    """A configuration file (or value) is malformed; the message names file, key, found, expected."""


class MissingDependency(InvalidDrill):
    """A binary or package the drill needs is not installed; the message says how to install it."""


class TargetUnreachable(InvalidDrill):
    """The target named in the configuration cannot be reached."""


class FaultFailed(DrillError):
    """Injecting a fault, or undoing it, failed."""


class RecoveryTimeout(DrillError):
    """The target did not recover (or the fault was never detected) before the deadline."""


class ObjectiveBreached(DrillError):
    """A measured figure (RTO, RPO) is worse than the plan's objective."""


class DataLossDetected(ObjectiveBreached):
    """Acknowledged writes were lost beyond what the objective allows."""


class StackError(DrillError):
    """The embedded local stack could not be started, driven or stopped."""
