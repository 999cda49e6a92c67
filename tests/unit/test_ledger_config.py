"""The [ledger] and [backup] sections: defaults, the embedded stack's values, named bad inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from drillbook.config import load_config
from drillbook.config.model import BackupSettings, LedgerSettings
from drillbook.errors import ConfigError
from tests.unit.config_cases import KUBERNETES, PROBE


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "drill.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_without_a_ledger_section_there_is_no_writer(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, PROBE))

    assert config.ledger == LedgerSettings()
    assert config.ledger.write_path is None
    assert config.backup == BackupSettings()


def test_embedded_stack_writes_evidence_and_backs_up_as_the_plan_says() -> None:
    config = load_config()
    ledger, backup = config.ledger, config.backup

    assert ledger.write_path == "/deliberate"
    assert ledger.records == "evidence"
    assert ledger.source == "table"
    assert ledger.table == "evidence_records"
    assert ledger.rate_per_second > 0
    assert "pgdata/postgresql.conf" in ledger.configuration_files
    assert (backup.bucket, backup.prefix, backup.name_prefix) == (
        "eleanor-backups",
        "database/",
        "eleanor-v8",
    )
    assert backup.retention_seconds == 30 * 86400
    assert backup.schedule_seconds == 86400


def test_a_full_ledger_and_backup_section(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            PROBE
            + """
[ledger]
write_path = "/deliberate"
rate = 2.5
max_writes = 100
max_duration = "90s"
timeout = "1500ms"
records = "other"
source = "jsonl"
jsonl_path = "/var/log/eleanor/ledger.jsonl"
configuration_files = ["a.conf"]
ack_dir = "out/acks"

[backup]
bucket = "my-backups"
prefix = ""
retention = "168h"
schedule = "12h"
endpoint_url = "http://127.0.0.1:9000"
region = "eu-west-1"
""",
        )
    )
    assert config.ledger == LedgerSettings(
        write_path="/deliberate",
        rate_per_second=2.5,
        max_writes=100,
        max_duration_seconds=90.0,
        timeout_seconds=1.5,
        records="other",
        source="jsonl",
        jsonl_path="/var/log/eleanor/ledger.jsonl",
        configuration_files=("a.conf",),
        ack_dir="out/acks",
    )
    assert config.backup == BackupSettings(
        bucket="my-backups",
        prefix="",
        retention_seconds=168 * 3600.0,
        schedule_seconds=12 * 3600.0,
        endpoint_url="http://127.0.0.1:9000",
        region="eu-west-1",
    )


def test_an_empty_write_path_turns_the_writer_off(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, PROBE + '[ledger]\nwrite_path = ""\n'))

    assert config.ledger.write_path is None


BAD = [
    pytest.param('[ledger]\nwrite_path = "deliberate"\n', "ledger.write_path", "'deliberate'",
                 "starting with '/'", id="write_path_without_slash"),
    pytest.param("[ledger]\nrate = 0\n", "ledger.rate", "0", "above 0", id="rate_zero"),
    pytest.param("[ledger]\nrate = 5000\n", "ledger.rate", "5000", "at most 1000",
                 id="rate_too_high"),
    pytest.param("[ledger]\nmax_writes = 0\n", "ledger.max_writes", "0", ">= 1",
                 id="max_writes_zero"),
    pytest.param('[ledger]\ntimeout = "0s"\n', "ledger.timeout", "'0s'", "longer than 0",
                 id="timeout_zero"),
    pytest.param('[ledger]\nsource = "tabel"\n', "ledger.source", "'tabel'", "did you mean 'table'",
                 id="source_typo"),
    pytest.param('[ledger]\nrecords = "audit"\n', "ledger.records", "'audit'", "'evidence'",
                 id="records_unknown"),
    pytest.param('[ledger]\ntable = "evidence; drop"\n', "ledger.table", "'evidence; drop'",
                 "a table name", id="table_not_identifier"),
    pytest.param('[ledger]\nread_path = "/audit/trace"\n', "ledger.read_path", "'/audit/trace'",
                 "{trace_id}", id="read_path_without_placeholder"),
    pytest.param('[ledger]\nwrite_path = "/deliberate"\nsource = "jsonl"\n', "ledger.jsonl_path",
                 "nothing", "JSON-lines file", id="jsonl_without_path"),
    pytest.param('[ledger]\nwrte_path = "/x"\n', "ledger.wrte_path", "unknown key",
                 "did you mean 'write_path'", id="unknown_ledger_key"),
    pytest.param('[backup]\nbucket = "Eleanor_Backups"\n', "backup.bucket", "'Eleanor_Backups'",
                 "an S3 bucket name", id="bucket_invalid"),
    pytest.param('[backup]\nprefix = "/database/"\n', "backup.prefix", "'/database/'",
                 "no leading /", id="prefix_leading_slash"),
    pytest.param('[backup]\nretention = "30d"\n', "backup.retention", "'30d'", "duration",
                 id="retention_in_days"),
    pytest.param('[backup]\nschedule = 0\n', "backup.schedule", "0", "longer than 0",
                 id="schedule_zero"),
    pytest.param('[backup]\nendpoint_url = "s3.local"\n', "backup.endpoint_url", "'s3.local'",
                 "http(s) URL", id="endpoint_not_url"),
]  # fmt: skip


@pytest.mark.parametrize(("section", "key", "found", "expected"), BAD)
def test_bad_ledger_and_backup_values_name_file_key_found_and_expected(
    tmp_path: Path, section: str, key: str, found: str, expected: str
) -> None:
    path = write(tmp_path, PROBE + section)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)

    assert message.startswith(f"{path}: key '{key}': found ")
    assert found in message
    assert expected in message


def test_a_dsn_in_dsn_env_is_never_echoed(tmp_path: Path) -> None:
    path = write(
        tmp_path, PROBE + '[ledger]\ndsn_env = "postgresql://eleanor:hunter22@db/eleanor_v8"\n'
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)

    assert "hunter22" not in str(info.value)
    assert "key 'ledger.dsn_env'" in str(info.value)
    assert "name of an environment variable" in str(info.value)


def test_reading_a_table_on_kubernetes_needs_the_dsn_variable(tmp_path: Path) -> None:
    path = write(tmp_path, KUBERNETES + PROBE + '[ledger]\nwrite_path = "/deliberate"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)

    assert "key 'ledger.dsn_env'" in str(info.value)
    assert 'source = "http"' in str(info.value)

    config = load_config(
        write(
            tmp_path,
            KUBERNETES + PROBE + '[ledger]\nwrite_path = "/deliberate"\nsource = "http"\n',
        )
    )
    assert config.ledger.source == "http"


def test_overrides_reach_the_ledger(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, PROBE), overrides={"ledger.write_path": "/deliberate", "ledger.rate": "2"}
    )

    assert config.ledger.write_path == "/deliberate"
    assert config.ledger.rate_per_second == 2.0
