"""Load during every drill: Locust, in its own processes, measured per phase.

Never import `drillbook.load.locustfile` from the drill process (see drillbook.load.runner).
"""
