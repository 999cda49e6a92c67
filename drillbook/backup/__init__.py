"""Backups as the DR plan prescribes them, and restores that cannot leave a half state.

Weaviate (`weaviate`): the plan's `scripts/backup_weaviate.sh` and its restore.

The database (PostgreSQL):

* `dump`: `pg_dump | gzip` named `eleanor-v8-YYYYmmdd-HHMMSS.sql.gz` (the plan's daily backup);
* `store`: those dumps in S3 (`s3://eleanor-backups/database/`, kept 30 days), through boto3;
* `pitr`: continuous WAL archiving plus base backups (`pg_basebackup`) for point-in-time recovery;
* `restore`: a restore is built in a scratch cluster and verified there; only then is it swapped
  in for the live data directory, so a bad backup or a dead S3 leaves the live database as it was;
* `local`: all of it for the embedded stack (`DatabaseBackups`), as the CLI and the drills use it.
"""
