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
    PLATFORMS,
    TIERS,
    AuthSettings,
    Component,
    ComponentRole,
    DrillbookConfig,
    HttpProbe,
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
)
_VERIFICATION_KEYS = ("window", "error_rate_max")
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
    kwargs["target"] = _target(context, _table(context, "target", data), platform)
    if "stack" in data:
        kwargs["stack"] = _stack(context, _table(context, "stack", data))
    if "verification" in data:
        kwargs["verification"] = _verification(context, _table(context, "verification", data))
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


def _target(context: _Context, table: dict[str, Any], platform: PlatformName) -> TargetConfig:
    _check_keys(context, "target", table, _TARGET_KEYS)
    kwargs: dict[str, Any] = {}
    for name in ("name", "environment"):
        if name in table:
            kwargs[name] = _text(context, f"target.{name}", table[name])
    base_url: str | None = None
    if "base_url" in table:
        base_url = _url(context, "target.base_url", table["base_url"])
        kwargs["base_url"] = base_url
    elif platform == "kubernetes":
        context.fail(
            "target.base_url",
            _MISSING,
            "the http(s) URL the deployment answers at, because platform is 'kubernetes'",
            'add base_url = "https://..." under [target]; only the local platform provides one',
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
