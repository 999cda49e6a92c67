"""Load, merge and validate a drillbook configuration file into a `DrillbookConfig`.

Precedence is override > file > default: the file (or the embedded configuration) is parsed with
tomllib, the flat dotted overrides from the command line or ini file are written into it, and the
result is validated in one pass. Every problem is a single `ConfigError` of the form

    <file>: key '<dotted.key>': found <value>, expected <what>; <how to fix it>

raised before anything is injected, so a typo can never turn into a half-run destructive drill.
Each table is validated by its module in `drillbook.config.sections`, from the declarations on
its dataclass fields (`drillbook.config.schema`); defaults live only there: a key absent from the
file is simply not passed.
"""

from __future__ import annotations

import importlib.resources
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from drillbook.config.model import EMBEDDED_SOURCE, DrillbookConfig
from drillbook.config.schema import (
    MISSING,
    OVERRIDES_SOURCE,
    Context,
    check_keys,
    keys,
    message,
    parse_fields,
    quoted,
    show,
    subtable,
)
from drillbook.config.sections import (
    allow,
    backup,
    cache,
    docker,
    findings,
    history,
    kubernetes,
    ledger,
    load,
    notify,
    objectives,
    probing,
    schedule,
    secrets,
    sites,
    stack,
    stop,
    target,
    verification,
)
from drillbook.config.sections.platform import PlatformName
from drillbook.errors import ConfigError

__all__ = ["OVERRIDES_SOURCE", "load_config"]

# Case-insensitive, and "prod" too: the guard exists to stop accidents, not to parse spelling.
_PRODUCTION_WORDS = frozenset({"production", "prod", "prd", "live"})
_WORD = re.compile(r"[a-z0-9]+")
_TOML_POSITION = re.compile(r"^(?P<message>.*) \(at line (?P<line>\d+), column (?P<column>\d+)\)$")
_TOML_AT_END = re.compile(r"^(?P<message>.*) \(at end of document\)$")


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    overrides: Mapping[str, object] | None = None,
) -> DrillbookConfig:
    """Load and validate a configuration; raise ConfigError on the first problem found.

    `path=None` loads the embedded stack's configuration shipped in the package (source
    "<embedded>"). `overrides` are flat dotted keys in the file's own layout and units, e.g.
    {"probing.interval": "100ms", "stack.reuse": True}; they replace what the file says and are
    validated the same way. A None value means "not given" and is skipped, so option values can be
    passed straight through. Strings are accepted for boolean and integer keys in overrides only,
    because command-line and ini values arrive as text.
    """
    if path is None:
        source = EMBEDDED_SOURCE
        text = _read_embedded()
    else:
        source = os.fspath(path)
        text = _read_file(source)
    data = _parse_toml(text, source)
    context = Context(source=source)
    for key, value in (overrides or {}).items():
        if value is not None:
            _apply_override(context, data, key, value)
    return _build(context, data)


# --- reading ---------------------------------------------------------------------------------


def _read_embedded() -> str:
    resource = importlib.resources.files("drillbook.config").joinpath("embedded.toml")
    try:
        return resource.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{EMBEDDED_SOURCE}: drillbook/config/embedded.toml is missing from the installed "
            "package; reinstall drillbook (pip install --force-reinstall drillbook)"
        ) from None


def _read_file(source: str) -> str:
    try:
        return Path(source).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"config file '{source}' not found; pass an existing file with --drillbook-config "
            "or omit it to use the embedded stack"
        ) from None
    except IsADirectoryError:
        raise ConfigError(
            f"config file '{source}' is a directory; pass a TOML file with --drillbook-config "
            "or omit it to use the embedded stack"
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{source}: byte {exc.start} is not UTF-8; TOML files must be UTF-8 text"
        ) from None
    except OSError as exc:
        raise ConfigError(f"config file '{source}' cannot be read: {exc.strerror}") from None


def _parse_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except RecursionError:
        # tomllib parses nested arrays and inline tables recursively: 100,000 brackets deep
        # exhaust the stack. No configuration nests more than a few levels.
        raise ConfigError(
            f"{source}: the TOML nests arrays or inline tables too deeply to be read; a "
            "drillbook configuration needs a few levels at most"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raw = str(exc)
        line, column, problem = _toml_position(raw, text)
        hint = ""
        if problem.startswith("Invalid value"):
            hint = (
                "; strings need quotes, and conditions are easiest in single quotes: "
                "'status == \"healthy\"'"
            )
        raise ConfigError(
            f"{source}: invalid TOML at line {line}, column {column}: {problem}{hint}"
        ) from None


def _toml_position(raw: str, text: str) -> tuple[int, int, str]:
    match = _TOML_POSITION.match(raw)
    if match:
        return int(match["line"]), int(match["column"]), match["message"]
    lines = text.split("\n")
    at_end = _TOML_AT_END.match(raw)
    problem = at_end["message"] if at_end else raw
    return len(lines), len(lines[-1]) + 1, problem


# --- overrides -------------------------------------------------------------------------------


def _apply_override(context: Context, data: dict[str, Any], key: object, value: object) -> None:
    if not isinstance(key, str) or not key or any(not part for part in key.split(".")):
        raise ConfigError(
            f"{OVERRIDES_SOURCE}: key {key!r}: found {show(value)}, expected a dotted key "
            "such as 'probing.interval'"
        )
    parts = key.split(".")
    table = data
    for depth, part in enumerate(parts[:-1]):
        prefix = ".".join(parts[: depth + 1])
        child = table.get(part, MISSING)
        if child is MISSING:
            child = {}
            table[part] = child
            context.overridden.add(prefix)
        elif not isinstance(child, dict):
            origin = context.origin(prefix)
            raise ConfigError(
                message(
                    OVERRIDES_SOURCE,
                    key,
                    show(value),
                    f"a key inside a table, but '{prefix}' is {show(child)} in {origin}",
                    None,
                )
            )
        table = child
    table[parts[-1]] = value
    context.overridden.add(key)


# --- validation ------------------------------------------------------------------------------


def _build(context: Context, data: dict[str, Any]) -> DrillbookConfig:
    check_keys(context, "", data, keys(DrillbookConfig))
    kwargs = parse_fields(
        context, "", data, DrillbookConfig, order=("platform", "allow_production")
    )
    platform: PlatformName = kwargs.get("platform", "local")
    if "allow" in data:
        kwargs["allow"] = allow.parse(context, subtable(context, "allow", data))
    if "objectives" in data:
        kwargs["objectives"] = objectives.parse(context, subtable(context, "objectives", data))
    if "probing" in data:
        kwargs["probing"] = probing.parse(context, subtable(context, "probing", data))
    cluster = kubernetes.parse(context, subtable(context, "kubernetes", data))
    if "kubernetes" in data:
        kwargs["kubernetes"] = cluster
    if "docker" in data:
        kwargs["docker"] = docker.parse(context, subtable(context, "docker", data))
    # With pod-readiness probes drillbook serves the probe address itself, like the local stack;
    # a Compose project is probed where its users reach it.
    needs_base_url = (platform == "kubernetes" and cluster.probes == "http") or platform == "docker"
    kwargs["target"] = target.parse(
        context, subtable(context, "target", data), platform, needs_base_url=needs_base_url
    )
    if "stack" in data:
        kwargs["stack"] = stack.parse(context, subtable(context, "stack", data))
    if "stop" in data:
        kwargs["stop"] = stop.parse(context, subtable(context, "stop", data))
    if "findings" in data:
        kwargs["findings"] = findings.parse(context, subtable(context, "findings", data))
    if "sites" in data:
        kwargs["sites"] = sites.parse(context, subtable(context, "sites", data))
    if "verification" in data:
        kwargs["verification"] = verification.parse(
            context, subtable(context, "verification", data)
        )
    if "cache" in data:
        kwargs["cache"] = cache.parse(context, subtable(context, "cache", data))
    if "load" in data:
        kwargs["load"] = load.parse(context, subtable(context, "load", data))
    if "ledger" in data:
        kwargs["ledger"] = ledger.parse(context, subtable(context, "ledger", data), platform)
    if "backup" in data:
        kwargs["backup"] = backup.parse(context, subtable(context, "backup", data))
    if "secrets" in data:
        kwargs["secrets"] = secrets.parse(context, subtable(context, "secrets", data))
    if "history" in data:
        kwargs["history"] = history.parse(context, subtable(context, "history", data))
    if "schedule" in data:
        kwargs["schedule"] = schedule.parse(context, subtable(context, "schedule", data))
    if "notify" in data:
        kwargs["notify"] = notify.parse(context, subtable(context, "notify", data))
    config = DrillbookConfig(source=context.source, **kwargs)
    if config.platform == "kubernetes" and config.kubernetes.context is None:
        # The kubeconfig's current context is whatever was used last, in any shell: a drill
        # must never land on a cluster the file does not name.
        context.fail(
            "kubernetes.context",
            MISSING,
            "the kube context to drill, named in the file",
            'e.g. context = "kind-eleanor-drills" under [kubernetes]; `kubectl config '
            "get-contexts` lists them",
        )
    if config.platform == "docker" and config.docker.project is None:
        # Containers are found by their project's label: without it a service name such as
        # "app" could match another project's containers on the same engine.
        context.fail(
            "docker.project",
            MISSING,
            "the Compose project to drill, named in the file",
            'e.g. project = "eleanor" under [docker]; `docker compose ls` lists them',
        )
    _guard_production(context, config)
    _guard_allow_list(context, config)
    _guard_compose_allow_list(context, config)
    return config


def _guard_compose_allow_list(context: Context, config: DrillbookConfig) -> None:
    """On Docker the file must list the Compose services drills may touch ("project/service"),
    and every component's service must be on it: an engine runs whatever else is deployed on
    the machine too."""
    if config.platform != "docker":
        return
    allowed = config.allow.compose_services
    project = config.docker.project or ""
    if not allowed:
        context.fail(
            "allow.compose_services",
            MISSING,
            'the Compose services drills may fault, as "project/service"',
            "drills are destructive: on Docker the file lists what they may touch, e.g. "
            f'compose_services = ["{project}/app"] under [allow]',
        )
    for name, component in config.target.components.items():
        qualified = f"{project}/{component.compose_service}"
        if component.compose_service is not None and qualified not in allowed:
            context.fail(
                f"target.components.{name}.compose_service",
                component.compose_service,
                f"a service of allow.compose_services ({quoted(list(allowed))})",
                f'add "{qualified}" to allow.compose_services to drill it',
            )


def _guard_allow_list(context: Context, config: DrillbookConfig) -> None:
    """On Kubernetes the file must say which clusters and namespaces drills may touch; every
    context it drills and every component's namespace must be on that list."""
    allowed = config.allow
    if config.platform != "kubernetes":
        return
    if not allowed.declared or not allowed.contexts:
        context.fail(
            "allow.contexts",
            MISSING,
            "the kube contexts drills may use, with their API servers",
            "drills are destructive: on Kubernetes the file lists what they may touch, e.g. "
            f'[[allow.contexts]] name = "{config.kubernetes.context or "kind-x"}" '
            'api_server = "https://127.0.0.1:6443", and allow.namespaces = ["eleanor-v8"]',
        )
    names = [c.name for c in allowed.contexts]
    for key, name in (
        ("kubernetes.context", config.kubernetes.context),
        ("kubernetes.dr_context", config.kubernetes.dr_context),
    ):
        if name is not None and name not in names:
            context.fail(key, name, f"a context of allow.contexts ({quoted(names)})")
    if not allowed.namespaces:
        context.fail(
            "allow.namespaces",
            MISSING,
            "the namespaces whose workloads drills may fault",
            'e.g. namespaces = ["eleanor-v8"] under [allow]',
        )
    for name, component in config.target.components.items():
        if component.namespace is not None and component.namespace not in allowed.namespaces:
            context.fail(
                f"target.components.{name}.namespace",
                component.namespace,
                f"a namespace of allow.namespaces ({quoted(list(allowed.namespaces))})",
            )


def _guard_production(context: Context, config: DrillbookConfig) -> None:
    if config.allow_production:
        return
    if config.allow.production:
        # The allow-list's own declaration: what the target is, whatever it is called.
        context.fail(
            "allow.production",
            True,
            "production drills confirmed",
            "[allow] declares this target production, and drills are destructive: confirm "
            "with allow_production = true at the top of the file or --drillbook-allow-production",
        )
    # Any spelling counts: "prod-eu", "eu_production", "PRD"; a name that merely contains the
    # letters ("product-api") does not, since the check is on whole words.
    named = [
        ("target.environment", config.target.environment),
        ("kubernetes.context", config.kubernetes.context or ""),
        ("kubernetes.dr_context", config.kubernetes.dr_context or ""),
    ]
    for key, name in named:
        if not _PRODUCTION_WORDS.intersection(_WORD.findall(name.lower())):
            continue
        context.fail(
            key,
            name,
            "a non-production environment unless production drills are confirmed",
            "drills are destructive (they kill replicas, stop databases, revoke secrets and "
            "restore backups on the target), so running them against production must be an "
            "explicit decision: set allow_production = true at the top of the file or pass "
            "--drillbook-allow-production",
        )
