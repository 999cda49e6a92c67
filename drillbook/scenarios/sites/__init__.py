"""Sites: room for the plan's quarterly site-loss drill (the primary site lost, the DR site
taking over: the DR context, its data restored from the other region's backups).

Nothing is here yet. Its faults, runbook steps and checks go in `faults.py`, `runbook.py` and
`checks.py` beside this file, as in the other scenario packages, and its drill module in
drills/quarterly/.
"""
