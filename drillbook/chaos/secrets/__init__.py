"""Scenario 5, secrets management failure, on the provider the control points the application
at (its `secrets_provider` argument): a secret deleted, revoked (leaked) or the application's
access revoked, or the provider down; recovered by Option A (fall back to environment
variables) or Option B (fix the provider, then restart the service)."""
