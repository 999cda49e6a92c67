"""Drill records over time: the history store, the plan's schedule, notifications on the plan's
ladder, trend charts and the drill report in the plan's terms.

Everything here reads the typed drill record (drillbook.core.record.DrillRecord); nothing keeps a
second record of its own. The pure parts (schedule, trend chart, report text, message text) take
their inputs as values and an injectable clock, so every rule is a unit test.
"""
