"""Application workloads (the plan's scenario 1): replicas killed, a workload scaled down; the
rollout restart and the scale back; the pod-level verbs every other scenario builds on."""
