"""Secrets providers behind one interface: environment, Kubernetes Secret, AWS Secrets Manager,
HashiCorp Vault (KV v2). The secrets drill (scenario 5) breaks them and checks the recovery.

Each provider is one module with one class satisfying `SecretProvider`; every failure is a
`drillbook.errors.SecretProviderError` naming the provider and the secret's path, never the value.
"""

from drillbook.secrets.base import SecretProvider

__all__ = ["SecretProvider"]
