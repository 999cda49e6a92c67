"""The [load] and [cache] sections: defaults, valid values, overrides, and named bad inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from drillbook.config.loader import load_config
from drillbook.config.model import CacheSettings, LoadSettings
from drillbook.errors import ConfigError

MINIMAL = """
[[target.probes]]
name = "health"
path = "/health"
"""


def _write(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "drillbook.toml"
    path.write_text(MINIMAL + extra)
    return path


def test_defaults_when_the_sections_are_absent(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, ""))
    assert config.load == LoadSettings()
    assert config.cache == CacheSettings()


def test_embedded_configuration_runs_load_in_every_drill() -> None:
    config = load_config(None)
    assert config.load.enabled
    assert config.load.rate == 20.0
    assert config.load.latency_slack_seconds == pytest.approx(0.1)
    assert config.load.latency_percentile == 50
    assert config.cache.master_name == "mymaster"


def test_valid_sections_are_read(tmp_path: Path) -> None:
    config = load_config(
        _write(
            tmp_path,
            """
[load]
users = 8
rate = 40.5
max_requests = 500
max_duration = "2m"
baseline = "3s"
workers = 2
external_workers = 1
master_bind_host = "0.0.0.0"
master_port = 25557
worker_key_env = "DRILLBOOK_LOAD_WORKER_KEY"
error_rate_margin = 0
latency_ratio_max = 1.5
latency_percentile = 95
latency_slack = "20ms"
settle = "0s"
min_requests = 10
trace_read_path = ""

[cache]
master_name = "eleanor"
sentinels = ["10.0.0.5:26379", "sentinel-1.cache:26379"]
failover_timeout = "45s"
rejoin_timeout = "2m"

[cache.nodes]
redis-0 = "10.0.0.7:6379"
redis-1 = "10.0.0.8:6379"
""",
        )
    )
    load = config.load
    assert (load.users, load.rate, load.max_requests, load.workers) == (8, 40.5, 500, 2)
    assert load.max_duration_seconds == 120.0
    assert load.baseline_seconds == 3.0
    assert load.external_workers == 1
    assert load.master_port == 25557
    assert load.worker_key_env == "DRILLBOOK_LOAD_WORKER_KEY"
    assert load.error_rate_margin == 0.0
    assert load.latency_ratio_max == 1.5
    assert load.latency_percentile == 95
    assert load.latency_slack_seconds == pytest.approx(0.02)
    assert load.settle_seconds == 0.0
    assert load.trace_read_path == ""
    cache = config.cache
    assert cache.master_name == "eleanor"
    assert cache.sentinels == ("10.0.0.5:26379", "sentinel-1.cache:26379")
    assert dict(cache.nodes) == {"redis-0": "10.0.0.7:6379", "redis-1": "10.0.0.8:6379"}
    assert cache.failover_timeout_seconds == 45.0
    assert cache.rejoin_timeout_seconds == 120.0


def test_overrides_arrive_as_text(tmp_path: Path) -> None:
    config = load_config(
        _write(tmp_path, ""),
        overrides={"load.rate": "5", "load.users": "2", "load.enabled": "false"},
    )
    assert config.load.rate == 5.0
    assert config.load.users == 2
    assert config.load.enabled is False


BAD = [
    ("unknown-key", "[load]\nrat = 5\n", "key 'load.rat'", "did you mean 'rate'?"),
    ("zero-rate", "[load]\nrate = 0\n", "key 'load.rate'", "requests per second above 0"),
    ("text-rate", '[load]\nrate = "fast"\n', "key 'load.rate'", "requests per second"),
    ("no-users", "[load]\nusers = 0\n", "key 'load.users'", "an integer >= 1"),
    ("negative-workers", "[load]\nworkers = -1\n", "key 'load.workers'", "an integer >= 0"),
    (
        "ratio-below-one",
        "[load]\nlatency_ratio_max = 0.5\n",
        "key 'load.latency_ratio_max'",
        ">= 1",
    ),
    ("margin-above-one", "[load]\nerror_rate_margin = 2\n", "key 'load.error_rate_margin'", "<= 1"),
    ("percentile-90", "[load]\nlatency_percentile = 90\n", "load.latency_percentile", "50, 95, 99"),
    ("port-too-high", "[load]\nmaster_port = 70000\n", "load.master_port", "from 1 to 65535"),
    ("bad-duration", '[load]\nbaseline = "soon"\n', "key 'load.baseline'", "duration"),
    ("zero-baseline", '[load]\nbaseline = "0s"\n', "key 'load.baseline'", "longer than 0"),
    (
        "trace-path-no-id",
        '[load]\ntrace_read_path = "/audit"\n',
        "load.trace_read_path",
        "{trace_id}",
    ),
    (
        "trace-path-relative",
        '[load]\ntrace_read_path = "x/{trace_id}"\n',
        "load.trace_read_path",
        "'/'",
    ),
    (
        "too-slow",
        "[load]\nusers = 1000\nrate = 1\n",
        "key 'load.rate'",
        "0.01 request per second per user",
    ),
    (
        "sentinel-no-port",
        '[cache]\nsentinels = ["10.0.0.5"]\n',
        "key 'cache.sentinels[0]'",
        "host:port",
    ),
    ("sentinel-bad-port", '[cache]\nsentinels = ["h:70000"]\n', "cache.sentinels[0]", "host:port"),
    (
        "sentinels-not-list",
        '[cache]\nsentinels = "h:1"\n',
        "key 'cache.sentinels'",
        "list of strings",
    ),
    ("nodes-not-table", '[cache]\nnodes = ["h:1"]\n', "key 'cache.nodes'", "pod name"),
    (
        "node-bad-address",
        '[cache.nodes]\nredis-0 = "nowhere"\n',
        "cache.nodes.redis-0",
        "host:port",
    ),
    ("master-name-space", '[cache]\nmaster_name = "my master"\n', "cache.master_name", "a name of"),
    (
        "zero-failover",
        '[cache]\nfailover_timeout = "0s"\n',
        "cache.failover_timeout",
        "longer than 0",
    ),
    (
        "cache-unknown",
        "[cache]\nsentinel = []\n",
        "key 'cache.sentinel'",
        "did you mean 'sentinels'?",
    ),
]


@pytest.mark.parametrize(("text", "key", "expected"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_values_are_one_clear_error(tmp_path: Path, text: str, key: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert message.startswith(str(path)), message
    assert key in message, message
    assert expected in message, message
