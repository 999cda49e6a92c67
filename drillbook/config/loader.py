"""Load, merge and validate a drillbook configuration file into a `DrillbookConfig`.

Precedence is override > file > default: the file (or the embedded configuration) is parsed with
tomllib, the flat dotted overrides from the command line or ini file are written into it, and the
result is validated in one pass. Every problem is a single `ConfigError` of the form

    <file>: key '<dotted.key>': found <value>, expected <what>; <how to fix it>

raised before anything is injected, so a typo can never turn into a half-run destructive drill.
Defaults live only in the model's dataclasses: a key absent from the file is simply not passed.
"""

from __future__ import annotations

import difflib
import importlib.resources
import math
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, NoReturn, TypeVar
from urllib.parse import urlsplit

from drillbook.config.conditions import Condition, parse_condition
from drillbook.config.durations import format_duration, parse_duration
from drillbook.config.model import (
    COMPONENT_ROLES,
    EMBEDDED_SOURCE,
    KUBERNETES_PROBE_MODES,
    LEDGER_RECORDS,
    LEDGER_SOURCES,
    PLATFORMS,
    TIERS,
    AuthSettings,
    BackupSettings,
    CacheSettings,
    Component,
    ComponentRole,
    DrillbookConfig,
    HttpProbe,
    KubernetesSettings,
    LedgerSettings,
    LoadSettings,
    Objectives,
    PlatformName,
    ProbingSettings,
    StackSettings,
    TargetConfig,
    Tier,
    VerificationSettings,
)
from drillbook.errors import ConfigError

__all__ = ["OVERRIDES_SOURCE", "load_config"]

OVERRIDES_SOURCE: Final = "<overrides>"
"""What error messages name as the file when the offending value came from `overrides`."""

_T = TypeVar("_T")


class _Missing:
    def __repr__(self) -> str:
        return "nothing"


_MISSING: Final = _Missing()


class _Redacted:
    """Stands in for a value that may be a secret, so error messages and CI logs never echo it."""

    def __repr__(self) -> str:
        return "a value not shown here (it may be a secret)"


_REDACTED: Final = _Redacted()

_TOP_KEYS = (
    "platform",
    "allow_production",
    "objectives",
    "probing",
    "target",
    "stack",
    "verification",
    "cache",
    "load",
    "kubernetes",
    "ledger",
    "backup",
    "secrets",
)
_KUBERNETES_KEYS = (
    "kubeconfig",
    "context",
    "dr_context",
    "probes",
    "kill_grace_period",
    "request_timeout",
)
_VERIFICATION_KEYS = ("window", "error_rate_max")
_LEDGER_DURATIONS = {"max_duration": "max_duration_seconds", "timeout": "timeout_seconds"}
_LEDGER_KEYS = (
    "write_path",
    "rate",
    "max_writes",
    *_LEDGER_DURATIONS,
    "records",
    "source",
    "table",
    "dsn_env",
    "jsonl_path",
    "read_path",
    "configuration_files",
    "ack_dir",
)
_BACKUP_DURATIONS = {"retention": "retention_seconds", "schedule": "schedule_seconds"}
_BACKUP_KEYS = ("bucket", "prefix", "name_prefix", *_BACKUP_DURATIONS, "endpoint_url", "region")
_SQL_TABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")
_S3_BUCKET = re.compile(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]")
_CACHE_KEYS = ("master_name", "sentinels", "nodes", "failover_timeout", "rejoin_timeout")
_LOAD_DURATIONS = {
    "max_duration": "max_duration_seconds",
    "baseline": "baseline_seconds",
    "start_timeout": "start_timeout_seconds",
    "latency_slack": "latency_slack_seconds",
    "settle": "settle_seconds",
}
_LOAD_KEYS = (
    "enabled",
    "users",
    "rate",
    "max_requests",
    *_LOAD_DURATIONS,
    "trace_read_path",
    "workers",
    "external_workers",
    "master_bind_host",
    "master_port",
    "error_rate_margin",
    "latency_percentile",
    "latency_ratio_max",
    "min_requests",
)
_HOST_PORT = re.compile(r"(?P<host>[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:]+\]):(?P<port>\d{1,5})")
_OBJECTIVE_DURATIONS = {
    "rto_critical": "rto_critical_seconds",
    "rto_non_critical": "rto_non_critical_seconds",
    "rto_full": "rto_full_seconds",
    "rpo": "rpo_seconds",
}
_OBJECTIVE_COUNTS = ("evidence_loss_allowed", "configuration_loss_allowed")
_PROBING_DURATIONS = {
    "interval": "interval_seconds",
    "timeout": "timeout_seconds",
    "detect_timeout": "detect_timeout_seconds",
    "recover_timeout": "recover_timeout_seconds",
}
_PROBING_KEYS = (*_PROBING_DURATIONS, "healthy_streak", "headers")
_TARGET_KEYS = (
    "name",
    "environment",
    "base_url",
    "probes",
    "critical_endpoints",
    "auth",
    "components",
)
_PROBE_KEYS = ("name", "path", "method", "expect_status", "conditions", "json", "auth")
_AUTH_KEYS = ("kind", "secret_env", "algorithm", "subject", "roles", "scopes")
_COMPONENT_KEYS = ("role", "tier", "namespace", "selector", "workload", "supervisor_group")
_STACK_KEYS = ("app_replicas", "max_app_replicas", "postgres_bin_dir", "run_dir", "reuse")

_AUTH_KINDS = ("none", "jwt")
# HMAC only: drillbook mints tokens from a shared secret; asymmetric keys would need a key file.
_JWT_ALGORITHMS = ("HS256", "HS384", "HS512")
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_WORKLOAD_KINDS = ("deployment", "statefulset", "daemonset", "replicaset")
# Case-insensitive, and "prod" too: the guard exists to stop accidents, not to parse spelling.
_PRODUCTION_NAMES = ("production", "prod")
_SECRET_LIKE_KEYS = ("secret", "jwt_secret", "token", "password", "key", "secret_value")

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
_ENV_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z\-]+")
_DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9\-]{0,61}[a-z0-9])?")
_WORKLOAD = re.compile(r"([a-z]+)/([a-z0-9]([a-z0-9.\-]*[a-z0-9])?)")
_TOML_POSITION = re.compile(r"^(?P<message>.*) \(at line (?P<line>\d+), column (?P<column>\d+)\)$")
_TOML_AT_END = re.compile(r"^(?P<message>.*) \(at end of document\)$")
_INTEGER_TEXT = re.compile(r"[+-]?\d+")
_FRACTION_TEXT = re.compile(r"\d+(?:\.\d+)?")
_TRUE_WORDS = ("true", "yes", "on", "1")
_FALSE_WORDS = ("false", "no", "off", "0")
_SHOW_LIMIT = 120


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
    context = _Context(source=source)
    for key, value in (overrides or {}).items():
        if value is not None:
            _apply_override(context, data, key, value)
    return _build(context, data)


@dataclass
class _Context:
    """Where values came from, so each error names the file (or the overrides) that set it."""

    source: str
    overridden: set[str] = field(default_factory=set)
    """Dotted keys written by overrides, including tables that an override created."""

    def origin(self, key: str) -> str:
        for written in self.overridden:
            if key == written or key.startswith((f"{written}.", f"{written}[")):
                return OVERRIDES_SOURCE
        return self.source

    def is_override(self, key: str) -> bool:
        return self.origin(key) == OVERRIDES_SOURCE

    def fail(self, key: str, found: object, expected: str, hint: str | None = None) -> NoReturn:
        raise ConfigError(_message(self.origin(key), key, _show(found), expected, hint))


def _message(origin: str, key: str, found: str, expected: str, hint: str | None) -> str:
    text = f"{origin}: key '{key}': found {found}, expected {expected}"
    return f"{text}; {hint}" if hint else text


def _show(value: object) -> str:
    text = repr(value)
    if len(text) > _SHOW_LIMIT:
        text = text[: _SHOW_LIMIT - 3] + "..."
    return text


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
    except tomllib.TOMLDecodeError as exc:
        raw = str(exc)
        line, column, message = _toml_position(raw, text)
        hint = ""
        if message.startswith("Invalid value"):
            hint = (
                "; strings need quotes, and conditions are easiest in single quotes: "
                "'status == \"healthy\"'"
            )
        raise ConfigError(
            f"{source}: invalid TOML at line {line}, column {column}: {message}{hint}"
        ) from None


def _toml_position(raw: str, text: str) -> tuple[int, int, str]:
    match = _TOML_POSITION.match(raw)
    if match:
        return int(match["line"]), int(match["column"]), match["message"]
    lines = text.split("\n")
    at_end = _TOML_AT_END.match(raw)
    message = at_end["message"] if at_end else raw
    return len(lines), len(lines[-1]) + 1, message


# --- overrides -------------------------------------------------------------------------------


def _apply_override(context: _Context, data: dict[str, Any], key: object, value: object) -> None:
    if not isinstance(key, str) or not key or any(not part for part in key.split(".")):
        raise ConfigError(
            f"{OVERRIDES_SOURCE}: key {key!r}: found {_show(value)}, expected a dotted key "
            "such as 'probing.interval'"
        )
    parts = key.split(".")
    table = data
    for depth, part in enumerate(parts[:-1]):
        prefix = ".".join(parts[: depth + 1])
        child = table.get(part, _MISSING)
        if child is _MISSING:
            child = {}
            table[part] = child
            context.overridden.add(prefix)
        elif not isinstance(child, dict):
            origin = context.origin(prefix)
            raise ConfigError(
                _message(
                    OVERRIDES_SOURCE,
                    key,
                    _show(value),
                    f"a key inside a table, but '{prefix}' is {_show(child)} in {origin}",
                    None,
                )
            )
        table = child
    table[parts[-1]] = value
    context.overridden.add(key)


# --- validation ------------------------------------------------------------------------------


def _build(context: _Context, data: dict[str, Any]) -> DrillbookConfig:
    _check_keys(context, "", data, _TOP_KEYS)
    kwargs: dict[str, Any] = {}
    platform: PlatformName = "local"
    if "platform" in data:
        platform = _choice(context, "platform", data["platform"], PLATFORMS)
        kwargs["platform"] = platform
    if "allow_production" in data:
        kwargs["allow_production"] = _bool(context, "allow_production", data["allow_production"])
    if "objectives" in data:
        kwargs["objectives"] = _objectives(context, _table(context, "objectives", data))
    if "probing" in data:
        kwargs["probing"] = _probing(context, _table(context, "probing", data))
    kubernetes = _kubernetes(context, _table(context, "kubernetes", data))
    if "kubernetes" in data:
        kwargs["kubernetes"] = kubernetes
    # With pod-readiness probes drillbook serves the probe address itself, like the local stack.
    needs_base_url = platform == "kubernetes" and kubernetes.probes == "http"
    kwargs["target"] = _target(
        context, _table(context, "target", data), platform, needs_base_url=needs_base_url
    )
    if "stack" in data:
        kwargs["stack"] = _stack(context, _table(context, "stack", data))
    if "verification" in data:
        kwargs["verification"] = _verification(context, _table(context, "verification", data))
    if "cache" in data:
        kwargs["cache"] = _cache(context, _table(context, "cache", data))
    if "load" in data:
        kwargs["load"] = _load(context, _table(context, "load", data))
    if "ledger" in data:
        kwargs["ledger"] = _ledger(context, _table(context, "ledger", data), platform)
    if "backup" in data:
        kwargs["backup"] = _backup(context, _table(context, "backup", data))
    if "secrets" in data:
        # Its own module (it uses this one's helpers): imported here, when both are loaded.
        from drillbook.config.secrets_section import parse_secrets

        kwargs["secrets"] = parse_secrets(context, _table(context, "secrets", data))
    config = DrillbookConfig(source=context.source, **kwargs)
    _guard_production(context, config)
    return config


def _objectives(context: _Context, table: dict[str, Any]) -> Objectives:
    _check_keys(context, "objectives", table, (*_OBJECTIVE_DURATIONS, *_OBJECTIVE_COUNTS))
    kwargs: dict[str, Any] = {}
    for name, field_name in _OBJECTIVE_DURATIONS.items():
        if name in table:
            key = f"objectives.{name}"
            seconds = _duration(context, key, table[name])
            if name != "rpo" and seconds <= 0:
                context.fail(key, table[name], "a recovery time objective longer than 0")
            kwargs[field_name] = seconds
    for name in _OBJECTIVE_COUNTS:
        if name in table:
            kwargs[name] = _int(context, f"objectives.{name}", table[name], minimum=0)
    return Objectives(**kwargs)


def _probing(context: _Context, table: dict[str, Any]) -> ProbingSettings:
    _check_keys(context, "probing", table, _PROBING_KEYS)
    kwargs: dict[str, Any] = {}
    for name, field_name in _PROBING_DURATIONS.items():
        if name in table:
            key = f"probing.{name}"
            seconds = _duration(context, key, table[name])
            if seconds <= 0:
                hint = "a zero interval would flood the target" if name == "interval" else None
                context.fail(key, table[name], "a duration longer than 0", hint)
            kwargs[field_name] = seconds
    if "healthy_streak" in table:
        kwargs["healthy_streak"] = _int(
            context, "probing.healthy_streak", table["healthy_streak"], minimum=1
        )
    if "headers" in table:
        kwargs["headers"] = _headers(context, table["headers"])
    settings = ProbingSettings(**kwargs)

    # Deadlines shorter than the sampling needs could never be met; say so now, not mid-drill.
    if settings.detect_timeout_seconds < settings.interval_seconds:
        context.fail(
            "probing.detect_timeout",
            table.get("detect_timeout", _MISSING),
            f"at least probing.interval ({format_duration(settings.interval_seconds)})",
            "detection needs at least one sample after the fault",
        )
    needed = settings.interval_seconds * settings.healthy_streak
    if settings.recover_timeout_seconds < needed:
        context.fail(
            "probing.recover_timeout",
            table.get("recover_timeout", _MISSING),
            f"at least probing.interval x probing.healthy_streak ({format_duration(needed)})",
            "recovery is only declared after healthy_streak healthy samples",
        )
    return settings


def _headers(context: _Context, value: object) -> dict[str, str]:
    key = "probing.headers"
    if not isinstance(value, dict):
        context.fail(key, value, 'a table of header names to strings, e.g. { X-Drill = "1" }')
    headers: dict[str, str] = {}
    for name, header_value in value.items():
        entry_key = f"{key}.{name}"
        if not _HEADER_NAME.fullmatch(name):
            context.fail(entry_key, name, "an HTTP header name (letters, digits and -)")
        if name.lower() == "authorization":
            context.fail(
                entry_key,
                _REDACTED,
                "no Authorization header in the file",
                'credentials never go in the file: set [target.auth] kind = "jwt" and keep '
                "the secret in the environment variable named by secret_env",
            )
        if not isinstance(header_value, str) or "\r" in header_value or "\n" in header_value:
            context.fail(entry_key, header_value, "a single-line string")
        headers[name] = header_value
    return headers


def _target(
    context: _Context,
    table: dict[str, Any],
    platform: PlatformName,
    *,
    needs_base_url: bool = False,
) -> TargetConfig:
    _check_keys(context, "target", table, _TARGET_KEYS)
    kwargs: dict[str, Any] = {}
    for name in ("name", "environment"):
        if name in table:
            kwargs[name] = _text(context, f"target.{name}", table[name])
    base_url: str | None = None
    if "base_url" in table:
        base_url = _url(context, "target.base_url", table["base_url"])
        kwargs["base_url"] = base_url
    elif needs_base_url:
        context.fail(
            "target.base_url",
            _MISSING,
            "the http(s) URL the deployment answers at, because platform is 'kubernetes'",
            'add base_url = "https://..." under [target]; only the local platform provides one '
            '(or set kubernetes.probes = "pod-readiness" for pods that serve no HTTP)',
        )
    auth = _auth(context, _table(context, "target.auth", table, key="auth"))
    kwargs["auth"] = auth
    probes = _probe_list(context, "target.probes", table.get("probes", _MISSING), auth)
    if not probes:
        context.fail(
            "target.probes",
            table.get("probes", _MISSING),
            "at least one health probe",
            'add [[target.probes]] with name = "health" and path = "/health"',
        )
    kwargs["probes"] = probes
    if "critical_endpoints" in table:
        kwargs["critical_endpoints"] = _probe_list(
            context, "target.critical_endpoints", table["critical_endpoints"], auth
        )
    _check_unique_names(context, probes, kwargs.get("critical_endpoints", ()))
    if "components" in table:
        kwargs["components"] = _components(context, table["components"], platform)
    return TargetConfig(**kwargs)


def _url(context: _Context, key: str, value: object) -> str:
    expected = "an http(s) URL such as 'https://api.example.com'"
    if not isinstance(value, str):
        context.fail(key, value, expected)
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        context.fail(key, value, expected)
    if parts.query or parts.fragment:
        context.fail(key, value, f"{expected} without query or fragment")
    return value.strip().rstrip("/")


def _auth(context: _Context, table: dict[str, Any]) -> AuthSettings:
    _check_keys(context, "target.auth", table, _AUTH_KEYS, secret_guard=True)
    kwargs: dict[str, Any] = {}
    if "kind" in table:
        kwargs["kind"] = _choice(context, "target.auth.kind", table["kind"], _AUTH_KINDS)
    if "secret_env" in table:
        key = "target.auth.secret_env"
        name = _text(context, key, table["secret_env"])
        if not _ENV_VAR.fullmatch(name):
            context.fail(
                key,
                _REDACTED,
                "the name of an environment variable (letters, digits, _), not the secret",
                "export the secret as e.g. ELEANOR_JWT_SECRET and name that variable here",
            )
        kwargs["secret_env"] = name
    if "algorithm" in table:
        kwargs["algorithm"] = _choice(
            context,
            "target.auth.algorithm",
            table["algorithm"],
            _JWT_ALGORITHMS,
            hint="drillbook signs tokens with the shared secret, so only HMAC algorithms apply",
        )
    if "subject" in table:
        kwargs["subject"] = _text(context, "target.auth.subject", table["subject"])
    for name in ("roles", "scopes"):
        if name in table:
            kwargs[name] = _text_list(context, f"target.auth.{name}", table[name])
    return AuthSettings(**kwargs)


def _probe_list(
    context: _Context, key: str, value: object, auth: AuthSettings
) -> tuple[HttpProbe, ...]:
    if value is _MISSING:
        return ()
    example = f"an array of tables [[{key}]]"
    if not isinstance(value, list | tuple):
        context.fail(key, value, example)
    probes: list[HttpProbe] = []
    for index, item in enumerate(value):
        item_key = f"{key}[{index}]"
        if not isinstance(item, dict):
            context.fail(item_key, item, f"a table (write each entry as [[{key}]])")
        probes.append(_probe(context, item_key, item, auth))
    return tuple(probes)


def _probe(context: _Context, key: str, table: dict[str, Any], auth: AuthSettings) -> HttpProbe:
    _check_keys(context, key, table, _PROBE_KEYS)
    for required, example in (("name", 'name = "health"'), ("path", 'path = "/health"')):
        if required not in table:
            context.fail(f"{key}.{required}", _MISSING, f"the probe's {required}, e.g. {example}")
    name = _name(context, f"{key}.name", table["name"])
    path = _text(context, f"{key}.path", table["path"])
    if not path.startswith("/"):
        context.fail(
            f"{key}.path",
            path,
            "a path starting with '/', e.g. '/health'",
            "the host belongs in target.base_url",
        )
    kwargs: dict[str, Any] = {"name": name, "path": path}
    if "method" in table:
        method = _text(context, f"{key}.method", table["method"])
        if method.upper() not in _METHODS:
            context.fail(f"{key}.method", method, f"one of {', '.join(_METHODS)}")
        kwargs["method"] = method.upper()
    if "expect_status" in table:
        kwargs["expect_status"] = _status_codes(
            context, f"{key}.expect_status", table["expect_status"]
        )
    if "conditions" in table:
        kwargs["conditions"] = _conditions(context, f"{key}.conditions", table["conditions"])
    if "json" in table:
        kwargs["json_body"] = _json_value(context, f"{key}.json", table["json"])
    if "auth" in table:
        wants_auth = _bool(context, f"{key}.auth", table["auth"])
        if wants_auth and auth.kind == "none":
            context.fail(
                f"{key}.auth",
                table["auth"],
                "false, because [target.auth] kind is 'none'",
                'set kind = "jwt" under [target.auth] so drillbook can mint a bearer token',
            )
        kwargs["auth"] = wants_auth
    return HttpProbe(**kwargs)


def _status_codes(context: _Context, key: str, value: object) -> tuple[int, ...]:
    expected = "a non-empty list of HTTP status codes such as [200]"
    if not isinstance(value, list | tuple) or not value:
        context.fail(key, value, expected)
    codes: list[int] = []
    for index, code in enumerate(value):
        if isinstance(code, bool) or not isinstance(code, int) or not 100 <= code <= 599:
            context.fail(f"{key}[{index}]", code, "an HTTP status code from 100 to 599")
        codes.append(code)
    return tuple(codes)


def _conditions(context: _Context, key: str, value: object) -> tuple[Condition, ...]:
    if not isinstance(value, list | tuple):
        context.fail(
            key,
            value,
            "a list of condition strings",
            "write conditions = ['status == \"healthy\"']",
        )
    conditions: list[Condition] = []
    for index, text in enumerate(value):
        item_key = f"{key}[{index}]"
        conditions.append(parse_condition(text, key=item_key, source=context.origin(item_key)))
    return tuple(conditions)


def _json_value(context: _Context, key: str, value: object) -> Any:
    """Check that a TOML value is JSON: TOML dates and times have no JSON form."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            context.fail(key, value, "a finite number (JSON has no nan or inf)")
        return value
    if isinstance(value, list | tuple):
        return [_json_value(context, f"{key}[{i}]", item) for i, item in enumerate(value)]
    if isinstance(value, dict):
        return {name: _json_value(context, f"{key}.{name}", item) for name, item in value.items()}
    context.fail(key, value, "a JSON value (string, number, boolean, array or table)")


def _check_unique_names(
    context: _Context, probes: Sequence[HttpProbe], endpoints: Sequence[HttpProbe]
) -> None:
    # Samples and reports are keyed by name, so two probes sharing one would merge silently.
    seen: dict[str, str] = {}
    for list_key, items in (("target.probes", probes), ("target.critical_endpoints", endpoints)):
        for index, probe in enumerate(items):
            key = f"{list_key}[{index}]"
            if probe.name in seen:
                context.fail(
                    f"{key}.name",
                    probe.name,
                    f"a name not already used by {seen[probe.name]}",
                )
            seen[probe.name] = key


def _components(context: _Context, value: object, platform: PlatformName) -> dict[str, Component]:
    key = "target.components"
    if not isinstance(value, dict):
        context.fail(key, value, "a table of component tables, e.g. [target.components.app]")
    components: dict[str, Component] = {}
    for name, table in value.items():
        item_key = f"{key}.{name}"
        _name(context, item_key, name)
        if not isinstance(table, dict):
            context.fail(item_key, table, f"a table [{item_key}]")
        components[name] = _component(context, item_key, name, table, platform)
    return components


def _component(
    context: _Context,
    key: str,
    name: str,
    table: dict[str, Any],
    platform: PlatformName,
) -> Component:
    _check_keys(context, key, table, _COMPONENT_KEYS)
    if "role" not in table:
        context.fail(f"{key}.role", _MISSING, f"one of {_quoted(COMPONENT_ROLES)}")
    role: ComponentRole = _choice(context, f"{key}.role", table["role"], COMPONENT_ROLES)
    kwargs: dict[str, Any] = {"name": name, "role": role}
    if "tier" in table:
        tier: Tier = _choice(context, f"{key}.tier", table["tier"], TIERS)
        kwargs["tier"] = tier
    if "namespace" in table:
        namespace = _text(context, f"{key}.namespace", table["namespace"])
        if len(namespace) > 63 or not _DNS_LABEL.fullmatch(namespace):
            context.fail(
                f"{key}.namespace",
                namespace,
                "a Kubernetes namespace (lower-case letters, digits and -, at most 63)",
            )
        kwargs["namespace"] = namespace
    if "selector" in table:
        kwargs["selector"] = _text(context, f"{key}.selector", table["selector"])
    if "workload" in table:
        workload = _text(context, f"{key}.workload", table["workload"])
        match = _WORKLOAD.fullmatch(workload)
        if match is None or match[1] not in _WORKLOAD_KINDS:
            context.fail(
                f"{key}.workload",
                workload,
                f"kind/name with kind one of {', '.join(_WORKLOAD_KINDS)}, "
                "e.g. 'deployment/eleanor-v8'",
            )
        kwargs["workload"] = workload
    if "supervisor_group" in table:
        kwargs["supervisor_group"] = _text(
            context, f"{key}.supervisor_group", table["supervisor_group"]
        )
    if platform == "kubernetes":
        for required, what in (("namespace", "namespace"), ("selector", "label selector")):
            if required not in kwargs:
                context.fail(
                    f"{key}.{required}",
                    _MISSING,
                    f"the component's Kubernetes {what}, because platform is 'kubernetes'",
                    "drills find the pods to disrupt by namespace and selector",
                )
    return Component(**kwargs)


def _stack(context: _Context, table: dict[str, Any]) -> StackSettings:
    _check_keys(context, "stack", table, _STACK_KEYS)
    kwargs: dict[str, Any] = {}
    if "app_replicas" in table:
        kwargs["app_replicas"] = _int(
            context,
            "stack.app_replicas",
            table["app_replicas"],
            minimum=2,
            hint="a replica is killed in drills and another must keep serving",
        )
    if "max_app_replicas" in table:
        kwargs["max_app_replicas"] = _int(
            context, "stack.max_app_replicas", table["max_app_replicas"], minimum=1
        )
    for name in ("postgres_bin_dir", "run_dir"):
        if name in table:
            kwargs[name] = _path_text(context, f"stack.{name}", table[name])
    if "reuse" in table:
        kwargs["reuse"] = _bool(context, "stack.reuse", table["reuse"])
    settings = StackSettings(**kwargs)
    if settings.max_app_replicas < settings.app_replicas:
        # Blame the value the user just changed: an override of app_replicas above the file's
        # maximum is the override's mistake, not the file's.
        app_overridden = context.is_override("stack.app_replicas") and not context.is_override(
            "stack.max_app_replicas"
        )
        if "max_app_replicas" in table and not app_overridden:
            context.fail(
                "stack.max_app_replicas",
                table["max_app_replicas"],
                f"an integer >= stack.app_replicas ({settings.app_replicas})",
            )
        context.fail(
            "stack.app_replicas",
            table["app_replicas"],
            f"an integer <= stack.max_app_replicas ({settings.max_app_replicas})",
            "raise max_app_replicas too",
        )
    return settings


def _verification(context: _Context, table: dict[str, Any]) -> VerificationSettings:
    _check_keys(context, "verification", table, _VERIFICATION_KEYS)
    kwargs: dict[str, Any] = {}
    if "window" in table:
        kwargs["window_seconds"] = _duration(context, "verification.window", table["window"])
    if "error_rate_max" in table:
        key = "verification.error_rate_max"
        value = table["error_rate_max"]
        if isinstance(value, str) and context.is_override(key) and _FRACTION_TEXT.fullmatch(value):
            value = float(value)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            context.fail(key, table["error_rate_max"], "a fraction from 0 to 1, e.g. 0.05 for 5%")
        kwargs["error_rate_max"] = float(value)
    return VerificationSettings(**kwargs)


def _cache(context: _Context, table: dict[str, Any]) -> CacheSettings:
    _check_keys(context, "cache", table, _CACHE_KEYS)
    kwargs: dict[str, Any] = {}
    if "master_name" in table:
        kwargs["master_name"] = _name(context, "cache.master_name", table["master_name"])
    if "sentinels" in table:
        sentinels = _text_list(context, "cache.sentinels", table["sentinels"])
        for index, address in enumerate(sentinels):
            _host_port(context, f"cache.sentinels[{index}]", address)
        kwargs["sentinels"] = sentinels
    if "nodes" in table:
        nodes = table["nodes"]
        if not isinstance(nodes, dict):
            context.fail("cache.nodes", nodes, 'a table of pod name = "host:port"')
        for name, address in nodes.items():
            _name(context, f"cache.nodes.{name}", name)
            _host_port(context, f"cache.nodes.{name}", address)
        kwargs["nodes"] = dict(nodes)
    for name in ("failover_timeout", "rejoin_timeout"):
        if name in table:
            key = f"cache.{name}"
            seconds = _duration(context, key, table[name])
            if seconds <= 0:
                context.fail(key, table[name], "a duration longer than 0")
            kwargs[f"{name}_seconds"] = seconds
    return CacheSettings(**kwargs)


def _host_port(context: _Context, key: str, value: object) -> str:
    match = _HOST_PORT.fullmatch(value) if isinstance(value, str) else None
    if match is None or not 0 < int(match["port"]) < 65536:
        context.fail(key, value, "an address host:port, e.g. '127.0.0.1:26379'")
    return str(value)


def _load(context: _Context, table: dict[str, Any]) -> LoadSettings:
    _check_keys(context, "load", table, _LOAD_KEYS)
    kwargs: dict[str, Any] = {}
    if "enabled" in table:
        kwargs["enabled"] = _bool(context, "load.enabled", table["enabled"])
    for name, minimum in (("users", 1), ("max_requests", 1), ("min_requests", 1)):
        if name in table:
            kwargs[name] = _int(context, f"load.{name}", table[name], minimum=minimum)
    for name in ("workers", "external_workers"):
        if name in table:
            kwargs[name] = _int(context, f"load.{name}", table[name], minimum=0)
    for name, field_name in _LOAD_DURATIONS.items():
        if name in table:
            key = f"load.{name}"
            seconds = _duration(context, key, table[name])
            if seconds <= 0 and name not in ("latency_slack", "settle"):
                context.fail(key, table[name], "a duration longer than 0")
            kwargs[field_name] = seconds
    if "rate" in table:
        kwargs["rate"] = _positive_number(
            context, "load.rate", table["rate"], "requests per second above 0, e.g. 20"
        )
    if "latency_percentile" in table:
        percentile = _int(
            context, "load.latency_percentile", table["latency_percentile"], minimum=1
        )
        if percentile not in (50, 95, 99):
            context.fail("load.latency_percentile", percentile, "one of 50, 95, 99")
        kwargs["latency_percentile"] = percentile
    if "latency_ratio_max" in table:
        ratio = _positive_number(
            context, "load.latency_ratio_max", table["latency_ratio_max"], "a factor >= 1, e.g. 2"
        )
        if ratio < 1:
            context.fail("load.latency_ratio_max", table["latency_ratio_max"], "a factor >= 1")
        kwargs["latency_ratio_max"] = ratio
    if "error_rate_margin" in table:
        margin = _positive_number(
            context,
            "load.error_rate_margin",
            table["error_rate_margin"],
            "a fraction from 0 to 1, e.g. 0.01 for 1%",
            allow_zero=True,
        )
        if margin > 1:
            context.fail("load.error_rate_margin", table["error_rate_margin"], "a fraction <= 1")
        kwargs["error_rate_margin"] = margin
    if "trace_read_path" in table:
        path = table["trace_read_path"]
        if not isinstance(path, str) or (path and not path.startswith("/")):
            context.fail(
                "load.trace_read_path",
                path,
                "a path starting with '/' and containing {trace_id}, or '' for none",
            )
        if path and "{trace_id}" not in path:
            context.fail("load.trace_read_path", path, "a path containing {trace_id}")
        kwargs["trace_read_path"] = path
    if "master_port" in table:
        port = _int(context, "load.master_port", table["master_port"], minimum=0)
        if port > 65535:
            context.fail(
                "load.master_port", port, "a TCP port from 1 to 65535, or 0 for a free one"
            )
        kwargs["master_port"] = port
    if "master_bind_host" in table:
        host = _text(context, "load.master_bind_host", table["master_bind_host"])
        kwargs["master_bind_host"] = host
    settings = LoadSettings(**kwargs)
    if settings.rate < settings.users * 0.01:
        context.fail(
            "load.rate",
            table.get("rate", settings.rate),
            f"at least 0.01 request per second per user ({settings.users} users)",
        )
    return settings


def _positive_number(
    context: _Context, key: str, value: object, expected: str, *, allow_zero: bool = False
) -> float:
    if isinstance(value, str) and context.is_override(key) and _FRACTION_TEXT.fullmatch(value):
        value = float(value)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
        or (value == 0 and not allow_zero)
    ):
        context.fail(key, value, expected)
    return float(value)


def _kubernetes(context: _Context, table: dict[str, Any]) -> KubernetesSettings:
    _check_keys(context, "kubernetes", table, _KUBERNETES_KEYS)
    kwargs: dict[str, Any] = {}
    if "kubeconfig" in table:
        kwargs["kubeconfig"] = _path_text(context, "kubernetes.kubeconfig", table["kubeconfig"])
    for name in ("context", "dr_context"):
        if name in table:
            kwargs[name] = _text(context, f"kubernetes.{name}", table[name])
    if "probes" in table:
        kwargs["probes"] = _choice(
            context, "kubernetes.probes", table["probes"], KUBERNETES_PROBE_MODES
        )
    if "kill_grace_period" in table:
        kwargs["kill_grace_period_seconds"] = _duration(
            context, "kubernetes.kill_grace_period", table["kill_grace_period"]
        )
    if "request_timeout" in table:
        seconds = _duration(context, "kubernetes.request_timeout", table["request_timeout"])
        if seconds <= 0:
            context.fail("kubernetes.request_timeout", table["request_timeout"], "a duration > 0")
        kwargs["request_timeout_seconds"] = seconds
    return KubernetesSettings(**kwargs)


def _ledger(context: _Context, table: dict[str, Any], platform: PlatformName) -> LedgerSettings:
    _check_keys(context, "ledger", table, _LEDGER_KEYS)
    kwargs: dict[str, Any] = {}
    if "write_path" in table:
        path = table["write_path"]
        if not isinstance(path, str) or (path and not path.startswith("/")):
            context.fail(
                "ledger.write_path",
                path,
                "a path starting with '/', e.g. '/deliberate', or '' for no writer",
            )
        kwargs["write_path"] = path or None
    if "rate" in table:
        rate = _positive_number(
            context, "ledger.rate", table["rate"], "writes per second above 0, e.g. 10"
        )
        if rate > 1000:
            context.fail("ledger.rate", table["rate"], "at most 1000 writes per second")
        kwargs["rate_per_second"] = rate
    if "max_writes" in table:
        kwargs["max_writes"] = _int(context, "ledger.max_writes", table["max_writes"], minimum=1)
    for name, field_name in _LEDGER_DURATIONS.items():
        if name in table:
            key = f"ledger.{name}"
            seconds = _duration(context, key, table[name])
            if seconds <= 0:
                context.fail(key, table[name], "a duration longer than 0")
            kwargs[field_name] = seconds
    if "records" in table:
        kwargs["records"] = _choice(context, "ledger.records", table["records"], LEDGER_RECORDS)
    if "source" in table:
        kwargs["source"] = _choice(context, "ledger.source", table["source"], LEDGER_SOURCES)
    if "table" in table:
        name = table["table"]
        if not isinstance(name, str) or not _SQL_TABLE.fullmatch(name):
            context.fail("ledger.table", name, "a table name such as 'evidence_records'")
        kwargs["table"] = name
    if "dsn_env" in table:
        env = _text(context, "ledger.dsn_env", table["dsn_env"])
        if not _ENV_VAR.fullmatch(env):
            context.fail(
                "ledger.dsn_env",
                _REDACTED,
                "the name of an environment variable (letters, digits, _), not the DSN",
                "a DSN may hold a password: export it and name the variable here",
            )
        kwargs["dsn_env"] = env
    for name in ("jsonl_path", "ack_dir"):
        if name in table:
            kwargs[name] = _path_text(context, f"ledger.{name}", table[name])
    if "read_path" in table:
        path = table["read_path"]
        if not isinstance(path, str) or not path.startswith("/") or "{trace_id}" not in path:
            context.fail(
                "ledger.read_path",
                path,
                "a path starting with '/' containing {trace_id}, e.g. '/audit/trace/{trace_id}'",
            )
        kwargs["read_path"] = path
    if "configuration_files" in table:
        kwargs["configuration_files"] = _text_list(
            context, "ledger.configuration_files", table["configuration_files"]
        )
    settings = LedgerSettings(**kwargs)
    if settings.write_path and settings.source == "jsonl" and not settings.jsonl_path:
        context.fail(
            "ledger.jsonl_path",
            _MISSING,
            'the JSON-lines file to read back, because ledger.source is "jsonl"',
            "e.g. the file at ELEANOR's EVIDENCE_PATH or ELEANOR_LEDGER_PATH",
        )
    if (
        settings.write_path
        and settings.source == "table"
        and platform != "local"
        and not settings.dsn_env
    ):
        context.fail(
            "ledger.dsn_env",
            _MISSING,
            'the environment variable holding the DSN, because ledger.source is "table" '
            f"and platform is '{platform}'",
            'or read back through the service with source = "http"',
        )
    return settings


def _backup(context: _Context, table: dict[str, Any]) -> BackupSettings:
    _check_keys(context, "backup", table, _BACKUP_KEYS)
    kwargs: dict[str, Any] = {}
    if "bucket" in table:
        bucket = table["bucket"]
        if not isinstance(bucket, str) or not _S3_BUCKET.fullmatch(bucket):
            context.fail(
                "backup.bucket",
                bucket,
                "an S3 bucket name (3-63 lower-case letters, digits, '.', '-')",
            )
        kwargs["bucket"] = bucket
    if "prefix" in table:
        prefix = table["prefix"]
        if not isinstance(prefix, str) or prefix.startswith("/"):
            context.fail("backup.prefix", prefix, "a key prefix such as 'database/' (no leading /)")
        kwargs["prefix"] = prefix
    if "name_prefix" in table:
        kwargs["name_prefix"] = _name(context, "backup.name_prefix", table["name_prefix"])
    for name, field_name in _BACKUP_DURATIONS.items():
        if name in table:
            key = f"backup.{name}"
            seconds = _duration(context, key, table[name])
            if seconds <= 0:
                context.fail(key, table[name], "a duration longer than 0, e.g. '720h' (30 days)")
            kwargs[field_name] = seconds
    if "endpoint_url" in table:
        kwargs["endpoint_url"] = _url(context, "backup.endpoint_url", table["endpoint_url"])
    if "region" in table:
        kwargs["region"] = _text(context, "backup.region", table["region"])
    return BackupSettings(**kwargs)


def _guard_production(context: _Context, config: DrillbookConfig) -> None:
    environment = config.target.environment
    if environment.strip().lower() in _PRODUCTION_NAMES and not config.allow_production:
        context.fail(
            "target.environment",
            environment,
            "a non-production environment unless production drills are confirmed",
            "drills are destructive (they kill replicas, stop databases, revoke secrets and "
            "restore backups on the target), so running them against production must be an "
            "explicit decision: set allow_production = true at the top of the file or pass "
            "--drillbook-allow-production",
        )


# --- value helpers ---------------------------------------------------------------------------


def _check_keys(
    context: _Context,
    prefix: str,
    table: Mapping[str, Any],
    allowed: Sequence[str],
    *,
    secret_guard: bool = False,
) -> None:
    for name, value in table.items():
        if name in allowed:
            continue
        key = f"{prefix}.{name}" if prefix else name
        hint: str | None
        shown = _REDACTED if secret_guard else value
        if secret_guard and name.lower() in _SECRET_LIKE_KEYS:
            hint = (
                "the secret never goes in the file: export it in the environment and name the "
                "variable with secret_env"
            )
        else:
            close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else None
        raise ConfigError(
            _message(
                context.origin(key),
                key,
                f"unknown key {name!r} = {_show(shown)}",
                f"one of {', '.join(allowed)}" + (f" in [{prefix}]" if prefix else " at the top"),
                hint,
            )
        )


def _table(
    context: _Context, dotted: str, parent: Mapping[str, Any], *, key: str | None = None
) -> dict[str, Any]:
    value = parent.get(key or dotted, _MISSING)
    if value is _MISSING:
        return {}
    if not isinstance(value, dict):
        context.fail(dotted, value, f"a table [{dotted}]")
    return value


def _choice(
    context: _Context, key: str, value: object, choices: Sequence[_T], hint: str | None = None
) -> _T:
    for choice in choices:
        if value == choice and isinstance(value, str):
            return choice
    if hint is None and isinstance(value, str):
        close = difflib.get_close_matches(value, [str(c) for c in choices], n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'?" if close else None
    context.fail(key, value, f"one of {_quoted(choices)}", hint)


def _quoted(choices: Sequence[object]) -> str:
    return ", ".join(f"'{choice}'" for choice in choices)


def _bool(context: _Context, key: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and context.is_override(key):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    context.fail(key, value, "true or false")


def _int(
    context: _Context, key: str, value: object, *, minimum: int, hint: str | None = None
) -> int:
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and context.is_override(key) and _INTEGER_TEXT.fullmatch(value):
        number = int(value)
    if number is None or number < minimum:
        context.fail(key, value, f"an integer >= {minimum}", hint)
    return number


def _duration(context: _Context, key: str, value: object) -> float:
    return parse_duration(value, key=key, source=context.origin(key))


def _text(context: _Context, key: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        context.fail(key, value, "a non-empty string")
    return value.strip()


def _text_list(context: _Context, key: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        context.fail(key, value, 'a list of strings such as ["drill"]')
    return tuple(_text(context, f"{key}[{index}]", item) for index, item in enumerate(value))


def _name(context: _Context, key: str, value: object) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        context.fail(key, value, "a name of letters, digits, '_', '.' and '-'")
    return value


def _path_text(context: _Context, key: str, value: object) -> str:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    return _text(context, key, value)
