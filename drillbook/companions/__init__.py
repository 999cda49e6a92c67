"""Companions that watch every drill from outside the service (drillbook.core.companions):
`pod_recovery` (on Kubernetes: the pods a fault killed and their replacements, the RTO in the
server's time) and `cache_watch` (the cache's hit rates per phase, failover, split brain).

The other companions live with what they measure: the write ledger and the configuration
checksums (drillbook.ledger), the load (drillbook.load), backups (drillbook.backup), the
precedent ledger (drillbook.scenarios.vector_store). drillbook.assembly.companions lists them all.
"""
