"""Scenario 6, Complete Infrastructure Failure, on the two-site deployment (drillbook.sites):
site faults, the failover / restore / failback runbook, the checks, the site figures."""
