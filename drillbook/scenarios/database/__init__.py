"""The database (the plan's scenario 2, and the backup drill): the postmaster killed or a data
file damaged; pod restart or restore from backup; the write ledger's and the backups' checks."""
