"""The database's backups of the drill (the `backup` companion's): the embedded stack's only."""

from __future__ import annotations

from drillbook.backup.companion import BackupCompanion
from drillbook.backup.local import DatabaseBackups
from drillbook.chaos.session import ChaosSession
from drillbook.errors import InvalidDrill


def backups_of(session: ChaosSession) -> DatabaseBackups:
    """The drill's database backups; a target without them is refused before any fault."""
    drill = session.drill
    if drill.config.platform != "local":
        raise InvalidDrill(
            "needs the database's backups, which drillbook takes and restores on the embedded "
            f"stack (platform local); on platform '{drill.config.platform}' run the plan's "
            "scripts/backup_database.sh instead"
        )
    companion = drill.companion("backup")
    if not isinstance(companion, BackupCompanion):
        raise InvalidDrill(f"the drill's backup companion is a {type(companion).__name__}")
    return companion.backups
