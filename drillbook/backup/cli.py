"""`drillbook backup database` and `drillbook restore database`, on the embedded stack.

    drillbook backup database [--base]           # pg_dump | gzip -> S3 (+ pg_basebackup)
    drillbook restore database [--backup latest|NAME] [--pitr latest|TIME]

The stack is the reusable one (`drillbook stack up`, or --run-dir). Every failure is one line
naming what is wrong and how to fix it (exit code 2); a failed restore leaves the live database
as it was.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drillbook.errors import InvalidDrill

if TYPE_CHECKING:
    from drillbook.backup.local import DatabaseBackups
    from drillbook.config.model import DrillbookConfig

COMMANDS = ("backup", "restore")


def add_backup_commands(commands: Any) -> None:
    """Register the two subcommands on the `drillbook` parser's subparsers."""
    backup = commands.add_parser("backup", help="back up the database (pg_dump | gzip to S3)")
    backup.add_argument("what", choices=("database", "weaviate"))
    backup.add_argument(
        "--base", action="store_true", help="also take a base backup (pg_basebackup) for PITR"
    )
    _common(backup)

    restore = commands.add_parser("restore", help="restore the database from a backup")
    restore.add_argument("what", choices=("database", "weaviate"))
    restore.add_argument(
        "--backup",
        default="latest",
        help="'latest' or a dump name (eleanor-v8-YYYYmmdd-HHMMSS.sql.gz); with --pitr, a base "
        "backup name",
    )
    restore.add_argument(
        "--pitr",
        default=None,
        metavar="latest|TIME",
        help="point-in-time recovery from a base backup and the WAL archive: to the end of the "
        "WAL ('latest') or to an ISO 8601 time (UTC if no offset)",
    )
    _common(restore)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="drillbook configuration file (default: embedded)")
    parser.add_argument(
        "--run-dir", type=Path, default=None, help="the embedded stack's run directory"
    )


def run_backup_command(args: argparse.Namespace) -> int:
    from drillbook.backup.local import DatabaseBackups
    from drillbook.config.loader import load_config
    from drillbook.stack.local_stack import attach
    from drillbook.target import REUSED_STACK_DIR

    config = load_config(args.config)
    if config.platform == "docker":
        return _on_compose(args, config)
    if config.platform == "kubernetes":
        return _on_kubernetes(args, config)
    if config.platform != "local":
        raise InvalidDrill(
            f"drillbook {args.command} database drives the embedded stack (platform local); "
            f"{config.source} names platform '{config.platform}', whose database the plan's "
            "scripts/backup_database.sh and restore_database.sh manage"
        )
    run_dir = (args.run_dir or REUSED_STACK_DIR).resolve()
    stack = attach(run_dir)
    if stack is None:
        raise InvalidDrill(
            f"no embedded stack is running in {run_dir}; start one with `drillbook stack up` "
            "(or pass --run-dir of a running one)"
        )
    if args.what == "weaviate":
        from drillbook.backup.weaviate_cli import run_weaviate_command

        return run_weaviate_command(args, stack)
    return _run(args, config, DatabaseBackups.for_stack(stack, config))


def _on_compose(args: argparse.Namespace, config: DrillbookConfig) -> int:
    """The Compose project's database backed up or restored through the engine and the
    published ports, holding the project's lock as a drill does."""
    from drillbook.backup.compose import compose_backups, locked_project

    if args.what == "weaviate":
        raise InvalidDrill(
            f"drillbook {args.command} weaviate drives the embedded stack's Weaviate; on "
            "platform docker back it up and restore it through Weaviate's own API (POST "
            "/v1/backups/filesystem) until drillbook does"
        )
    with locked_project(config) as (platform, state_dir):
        return _run(args, config, compose_backups(platform, config, state_dir))


def _on_kubernetes(args: argparse.Namespace, config: DrillbookConfig) -> int:
    """The cluster's PostgreSQL StatefulSet: dumps and base backups in its backups volume,
    restores by Jobs into its data volume (drillbook.backup.kube), on the allow-listed context."""
    from drillbook.backup.kube import kube_backups, kube_state_dir
    from drillbook.config.sections.allow import refuse_unlisted_server
    from drillbook.platforms.kubernetes import KubernetesPlatform

    if args.what == "weaviate":
        from drillbook.backup.weaviate_cli import run_weaviate_on_kubernetes

        return run_weaviate_on_kubernetes(args, config)
    components = list(config.target.components.values())
    platform = KubernetesPlatform.from_settings(config.kubernetes, components)
    try:
        platform.allow = config.allow
        refuse_unlisted_server(config.allow, platform.context, platform.connection.server)
        backups = kube_backups(platform, config, kube_state_dir(platform))
        try:
            return _run(args, config, backups)
        except BaseException:
            if args.command == "restore":
                # Not in the drills' undo journal (its path is the assembly's): a restore that
                # fails here gets the same repair at once (the failed data directory back if no
                # restored one is in place, the StatefulSet at its replicas). A SIGKILLed one is
                # healed by scripts/kind-up.sh's apply (replicas) and `repair` by hand.
                from drillbook.platforms.kube_database_volume import repair

                repair(platform, component=backups.db.component, stamp="none")
            raise
    finally:
        platform.close()


def _run(args: argparse.Namespace, config: DrillbookConfig, backups: DatabaseBackups) -> int:
    from drillbook.backup.local import parse_pitr_target

    if args.command == "backup":
        if args.base and backups.pitr_refusal is not None:
            # Said before anything is taken: a dump alone is not what was asked for.
            raise InvalidDrill(f"no base backup (--base): {backups.pitr_refusal}")
        stored = backups.take_dump()
        print(f"drillbook: backup {stored.name} ({stored.size_bytes} bytes) in {stored.key}")
        print(
            f"  sha256 {stored.sha256}; retention {config.backup.retention_seconds / 86400:g} days"
        )
        if args.base:
            base = backups.take_base_backup()
            print(f"drillbook: base backup {base.name} ({base.size_bytes} bytes) in {base.path}")
        return 0
    pitr = parse_pitr_target(args.pitr) if args.pitr is not None else None
    result = backups.restore(args.backup, pitr=pitr)
    print(
        f"drillbook: restored {result.backup.get('name')} ({result.mode}"
        + (f", to {result.target}" if result.target else "")
        + (
            f"): {result.evidence_rows} rows in {result.table}"
            if result.evidence_rows is not None
            else f"): no table {result.table} in the restored database"
        )
    )
    print(json.dumps(result.figures(), indent=2))
    return 0
