"""The write ledger: data loss measured in every drill.

A writer (`writer.LedgerWriter`, a drill companion) issues numbered writes through the target's own
write path and keeps every acknowledgement outside the blast radius (in the test process and in an
append-only file). After recovery the survivors are read back (`sources`), compared with what was
acknowledged (`checker`: lost, duplicated, unexpected, RPO) and their hash chain is verified
(`chain`). `configuration` checksums the configuration the target declares; `checks` holds the
plan's checklist items that rest on these figures.
"""
