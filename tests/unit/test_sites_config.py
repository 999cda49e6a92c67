"""The [sites] table: its validation (through load_config) and the primary's PostgreSQL settings
it leads to (drillbook.sites.deployment.primary_settings, synchronous_standby)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from drillbook.config.loader import load_config
from drillbook.config.sections.sites import SitesSettings
from drillbook.errors import ConfigError
from drillbook.sites.deployment import primary_settings, synchronous_standby
from drillbook.sites.services import RECEIVER_NAME, STANDBY_NAME

PROBE = '[[target.probes]]\nname = "health"\npath = "/health"\n'
PRIVATE_RANGE = (
    "expected a private IPv4 range (10/8, 172.16/12 or 192.168/16; not loopback): the sites' "
    "links must never use a routable address"
)
CIDR = "expected a private IPv4 network in CIDR form with no host bits set, e.g. 10.213.0.0/24"


def _refused(overrides: dict[str, object]) -> str:
    with pytest.raises(ConfigError) as refused:
        load_config(None, overrides=overrides)
    return str(refused.value)


def _sites(**overrides: object) -> SitesSettings:
    return load_config(None, overrides={f"sites.{k}": v for k, v in overrides.items()}).sites


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "subnet",
    ["8.8.8.0/24", "10.0.0.0/7", "100.64.0.0/24", "2001:db8::/64", "fd00::/64"],
    ids=["public", "partly-public", "carrier-grade-nat", "ipv6-doc", "ipv6-ula"],
)
def test_a_routable_or_non_ipv4_subnet_is_refused(subnet: str) -> None:
    message = _refused({"sites.subnet": subnet})
    assert message == f"<overrides>: key 'sites.subnet': found {subnet!r}, {PRIVATE_RANGE}"


@pytest.mark.parametrize("subnet", ["127.0.0.0/24", "127.10.0.0/16"])
def test_a_loopback_subnet_is_refused(subnet: str) -> None:
    message = _refused({"sites.subnet": subnet})
    assert message == f"<overrides>: key 'sites.subnet': found {subnet!r}, {PRIVATE_RANGE}"


@pytest.mark.parametrize(
    "subnet",
    ["169.254.10.0/24", "192.0.2.0/24", "198.18.0.0/24", "0.0.0.0/24", "240.0.0.0/24"],
    ids=["link-local", "documentation", "benchmarking", "this-network", "reserved"],
)
def test_a_subnet_outside_the_three_private_ranges_is_refused(subnet: str) -> None:
    """The message promises 10/8, 172.16/12 or 192.168/16: other special-purpose ranges that
    Python's `is_private` also counts (link-local, documentation...) must be refused too."""
    message = _refused({"sites.subnet": subnet})
    assert message == f"<overrides>: key 'sites.subnet': found {subnet!r}, {PRIVATE_RANGE}"


@pytest.mark.parametrize("subnet", ["10.214.0.1/24", "192.168.7.9/29", "172.16.0.0/8"])
def test_a_subnet_with_host_bits_set_is_refused(subnet: str) -> None:
    message = _refused({"sites.subnet": subnet})
    assert message == f"<overrides>: key 'sites.subnet': found {subnet!r}, {CIDR}"


@pytest.mark.parametrize("subnet", ["nonsense", "10.214.0.0/33", "10.214.0/24", ""])
def test_a_subnet_that_is_no_network_is_refused(subnet: str) -> None:
    message = _refused({"sites.subnet": subnet})
    assert "key 'sites.subnet'" in message
    assert f"found {subnet!r}" in message
    assert "expected a" in message


@pytest.mark.parametrize("subnet", ["10.214.0.0/30", "10.214.0.0/31", "10.214.0.4/32"])
def test_a_subnet_too_small_for_two_sites_and_the_gateway_is_refused(subnet: str) -> None:
    message = _refused({"sites.subnet": subnet})
    assert message == (
        f"<overrides>: key 'sites.subnet': found {subnet!r}, expected a /29 or larger range "
        "(room for 3 hosts)"
    )


@pytest.mark.parametrize("subnet", ["10.214.0.0/29", "172.16.5.0/24", "192.168.0.0/16"])
def test_a_private_subnet_of_a_29_or_larger_is_accepted(subnet: str) -> None:
    assert _sites(subnet=subnet).subnet == subnet


def test_the_same_name_for_primary_and_dr_is_refused() -> None:
    message = _refused({"sites.primary": "east", "sites.dr": "east"})
    assert message == (
        "<overrides>: key 'sites.dr': found 'east', expected a name other than sites.primary"
    )
    # The default primary's name too.
    assert "expected a name other than sites.primary" in _refused({"sites.dr": "primary"})


@pytest.mark.parametrize("key", ["primary", "dr"])
def test_a_site_name_longer_than_20_characters_is_refused(key: str) -> None:
    long = "s" * 21
    message = _refused({f"sites.{key}": long})
    assert message == (
        f"<overrides>: key 'sites.{key}': found {long!r}, expected a name of at most 20 characters"
    )
    assert getattr(_sites(**{key: "s" * 20}), key) == "s" * 20


@pytest.mark.parametrize("name", ["has space", "slash/name", "-leading", ""])
def test_a_site_name_that_is_not_a_name_is_refused(name: str) -> None:
    message = _refused({"sites.primary": name})
    assert message.startswith(f"<overrides>: key 'sites.primary': found {name!r}, expected ")


def test_an_unknown_replication_mode_is_refused() -> None:
    assert _refused({"sites.replication": "semi"}) == (
        "<overrides>: key 'sites.replication': found 'semi', expected one of 'async', 'sync'"
    )
    assert _refused({"sites.replication": "Sync"}).endswith(
        "expected one of 'async', 'sync'; did you mean 'sync'?"
    )


def test_an_unknown_offsite_mode_is_refused() -> None:
    assert _refused({"sites.offsite": "hourly"}) == (
        "<overrides>: key 'sites.offsite': found 'hourly', expected one of 'continuous', 'daily'"
    )


def test_an_archive_timeout_below_one_second_is_refused() -> None:
    assert _refused({"sites.archive_timeout": "500ms"}) == (
        "<overrides>: key 'sites.archive_timeout': found '500ms', expected at least 1s"
    )


def test_an_error_in_a_file_names_the_file(tmp_path: Path) -> None:
    config = tmp_path / "drill.toml"
    config.write_text(PROBE + '[sites]\nsubnet = "10.1.2.3/24"\n')
    with pytest.raises(ConfigError) as refused:
        load_config(config)
    assert str(refused.value) == f"{config}: key 'sites.subnet': found '10.1.2.3/24', {CIDR}"


# --- defaults ------------------------------------------------------------------------------------


def test_the_defaults_of_an_absent_sites_table(tmp_path: Path) -> None:
    config = tmp_path / "drill.toml"
    config.write_text(PROBE)
    assert load_config(config).sites == SitesSettings()
    assert SitesSettings() == SitesSettings(
        primary="primary",
        dr="dr",
        subnet="10.213.0.0/24",
        replication="async",
        archive_timeout_seconds=10.0,
        ship_interval_seconds=0.5,
        offsite="continuous",
    )


def test_the_embedded_configuration_deploys_synchronous_replication() -> None:
    assert load_config(None).sites == SitesSettings(
        primary="primary",
        dr="dr",
        subnet="10.213.0.0/24",
        replication="sync",
        archive_timeout_seconds=10.0,
        ship_interval_seconds=0.5,
        offsite="continuous",
    )


# --- the primary's PostgreSQL settings -----------------------------------------------------------

COMBINATIONS = list(itertools.product(("async", "sync"), (True, False), ("continuous", "daily")))


@pytest.mark.parametrize(("replication", "dr_standby", "offsite"), COMBINATIONS)
def test_primary_settings_in_every_combination(
    replication: str, dr_standby: bool, offsite: str
) -> None:
    # The primary's settings are the same whatever the DR site is (warm or cold) and whatever
    # the replication mode: synchronous commit is switched on later (synchronous_standby).
    settings = _sites(replication=replication, offsite=offsite)
    assert primary_settings(settings) == {
        "archive_timeout": "10s",
        "wal_log_hints": "on",
        "max_wal_senders": "10",
        "max_replication_slots": "10",
        "hot_standby": "on",
    }


@pytest.mark.parametrize(("replication", "dr_standby", "offsite"), COMBINATIONS)
def test_synchronous_standby_in_every_combination(
    replication: str, dr_standby: bool, offsite: str
) -> None:
    settings = _sites(replication=replication, offsite=offsite)
    expected: str | None
    if replication == "async":
        expected = None  # nothing waits
    elif dr_standby:
        expected = STANDBY_NAME  # the warm standby at the DR site
    elif offsite == "continuous":
        expected = RECEIVER_NAME  # a cold DR site: the off-site WAL receiver
    else:
        expected = None  # cold DR site, nothing streams off-site: nothing to wait for
    assert synchronous_standby(settings, dr_standby=dr_standby) == expected
    assert (STANDBY_NAME, RECEIVER_NAME) == ("dr_site", "offsite_wal")


@pytest.mark.parametrize(
    ("archive_timeout", "expected"),
    [("1s", "1s"), ("10s", "10s"), ("45s", "45s"), ("1m", "60s"), ("2m30s", "150s")],
)
def test_archive_timeout_in_whole_seconds(archive_timeout: str, expected: str) -> None:
    settings = _sites(archive_timeout=archive_timeout)
    assert primary_settings(settings)["archive_timeout"] == expected


@pytest.mark.parametrize("seconds", [0.0, 0.2, 0.5, 0.99])
def test_archive_timeout_is_never_below_one_second(seconds: float) -> None:
    # Below 1 s only from Python (the configuration refuses it): PostgreSQL's minimum is 1s,
    # and 0 would switch archive_timeout off.
    settings = SitesSettings(archive_timeout_seconds=seconds)
    assert primary_settings(settings)["archive_timeout"] == "1s"


@pytest.mark.parametrize("archive_timeout", ["1500ms", "2500ms", "3500ms", "10600ms", "10.9s"])
def test_archive_timeout_never_exceeds_the_configured_bound(archive_timeout: str) -> None:
    """[sites] archive_timeout: 'a WAL segment is archived at least this often': a fraction of
    a second must never round the setting up past the configured bound (nor round half to
    even: 1.5 s and 2.5 s both giving 2 s)."""
    settings = _sites(archive_timeout=archive_timeout)
    value = primary_settings(settings)["archive_timeout"]
    assert value.endswith("s")
    assert int(value[:-1]) <= settings.archive_timeout_seconds, (
        f"archive_timeout {archive_timeout} -> {value}"
    )
