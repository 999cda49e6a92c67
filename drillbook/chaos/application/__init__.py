"""Scenario 1, application failure: replicas killed or scaled away, restarted or scaled back."""
