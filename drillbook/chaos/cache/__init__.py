"""Scenario 3, cache (Redis) failure: Redis killed, restarted; the master lost, Sentinel's
failover to the standby."""
