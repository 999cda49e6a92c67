"""The composition root: where drillbook's parts are put together for a run.

Above the engine, the scenarios and reporting, below the pytest plugin and the CLI (which use
it): `target` and `kubernetes_target` open the target (the embedded stack or a cluster),
`undo` wires the undo executors every target gets and replays what a dead run left, `drill`
builds a Drill for a test from its marker, `companions` lists every companion kind.
Nothing below imports from here.
"""
