"""`drillbook backup weaviate` and `drillbook restore weaviate`, on the embedded stack.

    drillbook backup weaviate                    # the plan's scripts/backup_weaviate.sh
    drillbook restore weaviate [--backup NAME]   # the plan's restore_weaviate.sh --backup=latest

Registered as a choice of `drillbook backup|restore` (drillbook.backup.cli); the stack is the
reusable one (`drillbook stack up`, or --run-dir).
"""

from __future__ import annotations

import argparse
import json

from drillbook.backup.weaviate import RETENTION_DAYS, S3BackupStore, create_backup, restore_backup
from drillbook.errors import InvalidDrill
from drillbook.stack.local_stack import LocalStack
from drillbook.stack.services.moto import aws_env
from drillbook.stack.services.weaviate import endpoint


def run_weaviate_command(args: argparse.Namespace, stack: LocalStack) -> int:
    weaviate = endpoint(stack)  # VectorStoreNotProvided names the build script
    store = S3BackupStore.from_env(aws_env(stack.port("aws")))
    if args.command == "backup":
        made = create_backup(weaviate, store, export_root=stack.run_dir / "backups" / "weaviate")
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
        + (", fetched from S3" if result.downloaded else "")
        + f") in {result.seconds:.2f}s: {', '.join(result.collections)}"
    )
    print(json.dumps({"restore_seconds": round(result.seconds, 3)}))
    return 0
