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
    """A malformed configuration file or value; the message names file, key, found, expected."""


class MissingDependency(InvalidDrill):
    """A binary or package the drill needs is not installed; the message says how to install it."""


class TargetUnreachable(InvalidDrill):
    """The target named in the configuration cannot be reached."""


class TargetInUse(InvalidDrill):
    """Another run holds the target's lock; the message names it (one run per target)."""


class NotAllowed(InvalidDrill):
    """What a drill was about to touch is not on the configuration's allow-list ([allow]):
    refused before anything was done to it."""


class FaultFailed(DrillError):
    """Injecting a fault, or undoing it, failed."""


class UndoReplayFailed(FaultFailed):
    """An undo a dead earlier run left pending could not be replayed: nothing is injected."""


class UndoJournalDamaged(FaultFailed):
    """The undo journal held entries that cannot be replayed; they were moved aside once."""


class DrillFailed(DrillError, AssertionError):
    """The drill ran and the target did not meet the plan: a *failed* drill, not a broken one.

    It derives from AssertionError so that pytest and Allure report it as a failure (red), while
    every other DrillError is reported as broken (an infrastructure problem of the drill itself).
    """


class RecoveryTimeout(DrillFailed):
    """The target did not recover (or the fault was never detected) before the deadline."""


class VerificationFailed(DrillFailed):
    """A post-recovery check of the plan's checklist failed."""


class ObjectiveBreached(DrillFailed):
    """A measured figure (RTO, RPO) is worse than the plan's objective."""


class DataLossDetected(ObjectiveBreached):
    """Acknowledged writes were lost beyond what the objective allows."""


class DrillAborted(DrillError):
    """A stop condition fired (an alarm, an error rate past its bound, `drillbook halt`): the
    drill stopped and its fault was undone at once. Neither passed nor failed: aborted."""


class StackError(DrillError):
    """The embedded local stack could not be started, driven or stopped."""


class SecretProviderError(DrillError):
    """A secrets provider (Vault, AWS Secrets Manager, Kubernetes, environment) refused or failed.

    The message names the provider and the secret's path, never the secret's value.
    """

    def __init__(self, provider: str, path: str, problem: str) -> None:
        super().__init__(f"secrets provider '{provider}', secret '{path}': {problem}")
        self.provider = provider
        self.path = path


class SecretProviderUnreachable(SecretProviderError):
    """The provider is configured but does not answer (down, wrong address)."""


class SecretAccessDenied(SecretProviderError):
    """The provider answers but refuses the credentials (wrong, expired or revoked token)."""


class SecretNotFound(SecretProviderError):
    """The provider has no (readable) secret under that name: missing, deleted or destroyed."""
