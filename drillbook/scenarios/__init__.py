"""The plan's scenarios, one package per resource: its faults, runbook steps and checks together.

Each package holds `faults` (verb_noun factories returning a `Fault`), `runbook` (the plan's
recovery steps, each a `RecoveryStep` whose command is the plan's), `checks` (its checklist
items) and, where the scenario measures something beside the drill, a `companion`. `common` is
the general checklist every scenario runs. The drill modules (drills/) import from here.

The scenario packages do not import each other; they build on `workloads` (a pod failure of
any resource is a workload's replicas killed, and its recovery waits like a workload's).
"""
