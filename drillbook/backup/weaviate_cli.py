"""`drillbook backup weaviate` and `drillbook restore weaviate`, on the embedded stack and on a
kind cluster.

    drillbook backup weaviate                    # the plan's scripts/backup_weaviate.sh
    drillbook restore weaviate [--backup NAME]   # the plan's restore_weaviate.sh --backup=latest

Registered as a choice of `drillbook backup|restore` (drillbook.backup.cli); the stack is the
reusable one (`drillbook stack up`, or --run-dir); on platform kubernetes the configuration's
cluster (drillbook.backup.weaviate_kubernetes).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from drillbook.backup.weaviate import (
    RETENTION_DAYS,
    BackupStore,
    S3BackupStore,
    create_backup,
    restore_backup,
)
from drillbook.config.model import DrillbookConfig
from drillbook.errors import InvalidDrill
from drillbook.stack.local_stack import LocalStack
from drillbook.stack.services.moto import aws_env
from drillbook.stack.services.weaviate import WeaviateEndpoint, endpoint


def run_weaviate_command(args: argparse.Namespace, stack: LocalStack) -> int:
    weaviate = endpoint(stack)  # VectorStoreNotProvided names the build script
    store = S3BackupStore.from_env(aws_env(stack.port("aws")))
    return _run(args, weaviate, store, stack.run_dir / "backups" / "weaviate")


def run_weaviate_on_kubernetes(args: argparse.Namespace, config: DrillbookConfig) -> int:
    """On a cluster (kind): Weaviate at its published NodePort, its backup directory through
    the node's volume, backups kept off the cluster (drillbook.backup.weaviate_kubernetes);
    on the allow-listed context only."""
    from drillbook.backup.weaviate_kubernetes import (
        ROLE,
        kubernetes_vector_backups,
        kubernetes_weaviate_endpoint,
    )
    from drillbook.config.sections.allow import refuse_unlisted_server
    from drillbook.platforms.kubernetes import KubernetesPlatform

    names = [n for n, c in config.target.components.items() if c.role == ROLE]
    if not names:
        raise InvalidDrill(
            f"{config.source} has no component with role {ROLE!r}: no Weaviate to {args.command}"
        )
    components = list(config.target.components.values())
    platform = KubernetesPlatform.from_settings(config.kubernetes, components)
    try:
        refuse_unlisted_server(config.allow, platform.context, platform.connection.server)
        backups = kubernetes_vector_backups(kubernetes_weaviate_endpoint(platform, names[0]))
    finally:
        platform.close()
    return _run(args, backups.endpoint, backups.store, backups.export_root)


def _run(
    args: argparse.Namespace, weaviate: WeaviateEndpoint, store: BackupStore, export_root: Path
) -> int:
    if args.command == "backup":
        made = create_backup(weaviate, store, export_root=export_root)
        print(
            f"drillbook: Weaviate backup {made.backup.backup_id} ({made.backup.size_bytes} bytes, "
            f"{made.backup.files} files) in {made.s3_uri}"
        )
        print(
            f"  exported to {made.export_dir}; {made.seconds:.2f}s; retention {RETENTION_DAYS} "
            f"days (pruned: {', '.join(made.pruned) or 'none'})"
        )
        return 0
    if getattr(args, "pitr", None) is not None:
        raise InvalidDrill("--pitr applies to the database only; Weaviate restores whole backups")
    result = restore_backup(weaviate, store, backup_id=args.backup)
    print(
        f"drillbook: restored Weaviate backup {result.backup.backup_id} (age "
        f"{result.age_seconds:.0f}s, {result.backup.size_bytes} bytes"
        + (f", fetched from {store.uri()}" if result.downloaded else "")
        + f") in {result.seconds:.2f}s: {', '.join(result.collections)}"
    )
    print(json.dumps({"restore_seconds": round(result.seconds, 3)}))
    return 0
