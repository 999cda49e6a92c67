"""Secrets management (the plan's scenario 5): a secret deleted or revoked, the application's
access revoked, the provider down; Option A (environment variables) or B (fix the provider);
secret retrieval, authentication and outbound calls checked. `stores` opens the configured
providers and executes their journaled undos."""
