"""Locust's processes get the environment they need, not the runner's secrets."""

from __future__ import annotations

import pytest

from drillbook.load.runner import inherited_environment


def test_secrets_in_the_runners_environment_stay_there(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELEANOR_JWT_SECRET", "jwt-secret-of-the-runner")
    monkeypatch.setenv("ELEANOR_EVIDENCE_DSN", "postgresql://u:p@db/x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    inherited = inherited_environment()
    assert not {"ELEANOR_JWT_SECRET", "ELEANOR_EVIDENCE_DSN", "AWS_SECRET_ACCESS_KEY"} & set(
        inherited
    )
    assert inherited["LC_ALL"] == "C.UTF-8" and "PATH" in inherited
