"""The services of the embedded stack, one module each, started in the order of `SERVICES`.

A new service (Sentinel, a secrets server, a vector store, ...) is a module here with a class
satisfying `StackService`, added to `default_services()`; nothing else in the stack changes.
"""

from __future__ import annotations

from drillbook.stack.services.app import AppService
from drillbook.stack.services.base import StackContext, StackService
from drillbook.stack.services.moto import MotoService
from drillbook.stack.services.openbao import OpenBaoService
from drillbook.stack.services.postgres import PostgresService
from drillbook.stack.services.proxy import ProxyService
from drillbook.stack.services.redis import RedisService
from drillbook.stack.services.secrets_manager import SecretsManagerService
from drillbook.stack.services.weaviate import WeaviateService

__all__ = ["StackContext", "StackService", "default_services"]


def default_services() -> list[StackService]:
    """The stack's services in start order: dependencies first, the proxy last."""
    return [
        PostgresService(),
        RedisService(),
        MotoService(),
        WeaviateService(),
        OpenBaoService(),
        SecretsManagerService(),
        AppService(),
        ProxyService(),
    ]
