"""Load during every drill: a companion that runs Locust from before the fault to after
verification and reports requests, error rate and latency per phase.

The load is what users would send: the target's health probes, its critical endpoints (with a
bearer token where they need one) and reads of the traces the load itself wrote. Its figures
per phase (baseline, during the fault, after recovery) feed the checklist items "error rates
normal" and "performance metrics normal" (drillbook.load.checks) and the report.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drillbook.config.model import DrillbookConfig, HttpProbe
from drillbook.core.companions import Attachment
from drillbook.core.phases import PHASE_TITLES, Phase, PhaseBounds, drill_phase_bounds
from drillbook.core.private_files import write_private
from drillbook.core.redaction import register_secret
from drillbook.errors import ConfigError
from drillbook.load.chart import render_load_svg
from drillbook.load.plan import Endpoint, LoadPlan
from drillbook.load.runner import LoadNotStarted, LocustProcesses, start_locust
from drillbook.load.stats import (
    LoadSample,
    PhaseStats,
    phase_stats,
    requests_by_endpoint,
    sample_from_json,
    stats_by_phase,
)

if TYPE_CHECKING:
    from drillbook.engine.drill import Drill, DrillIdentity
    from drillbook.probes.auth import TokenProvider
    from drillbook.target import Target

_POLL_SECONDS = 0.05
TOKEN_REFRESH_SECONDS = 0.5
HEALTH_WEIGHT = 1
CRITICAL_WEIGHT = 2


def build_plan(config: DrillbookConfig, samples_path: Path, token_path: Path | None) -> LoadPlan:
    """The load's requests, derived from the target's probes and critical endpoints."""
    load = config.load
    assert config.target.base_url is not None

    def endpoint(probe: HttpProbe, weight: int) -> Endpoint:
        records = (
            bool(load.trace_read_path)
            and probe.method == "POST"
            and isinstance(probe.json_body, dict)
        )
        return Endpoint(
            name=probe.name,
            method=probe.method,
            path=probe.path,
            weight=weight,
            expect_status=probe.expect_status,
            json_body=probe.json_body,
            auth=probe.auth,
            records_trace=records,
        )

    endpoints = [endpoint(p, HEALTH_WEIGHT) for p in config.target.probes]
    endpoints += [endpoint(p, CRITICAL_WEIGHT) for p in config.target.critical_endpoints]
    return LoadPlan(
        base_url=config.target.base_url,
        endpoints=tuple(endpoints),
        users=load.users,
        rate=load.rate,
        timeout_seconds=config.probing.timeout_seconds,
        samples_path=str(samples_path),
        max_requests=load.max_requests,
        trace_read_path=load.trace_read_path,
        token_path="" if token_path is None else str(token_path),
        headers=dict(config.probing.headers),
    )


class LoadCompanion:
    """Locust load beside one drill, measured per phase."""

    name = "load"

    def __init__(self, config: DrillbookConfig, *, tokens: TokenProvider | None) -> None:
        self.config = config
        self.settings = config.load
        self._tokens = tokens if tokens is not None and tokens.enabled else None
        self._token_stop = threading.Event()
        self._token_thread: threading.Thread | None = None
        self._drill: Drill | None = None
        self._directory: Path | None = None
        self._processes: LocustProcesses | None = None
        self._load_seen_at: float | None = None
        """When the first request of the load was seen (monotonic): it is at work since."""
        self._samples: list[LoadSample] = []
        self._offset = 0
        self._partial = ""
        self._lock = threading.Lock()
        self._node = socket.gethostname()
        self._wall_offset = time.monotonic() - time.time()
        self._log_tail = ""
        self.exit_codes: list[int | None] = []

    # -- lifecycle -----------------------------------------------------------------------
    def prepare(self, drill: Drill) -> None:
        """Launch Locust, without waiting: its processes start up (imports, about half a
        second) while the drill starts its other companions; `start` then waits for the
        baseline of traffic."""
        self._drill = drill
        self._directory = Path(tempfile.mkdtemp(prefix="drillbook-load-"))
        samples_path = self._directory / "samples.jsonl"
        samples_path.touch()
        token_path = self._directory / "token" if self._tokens is not None else None
        if token_path is not None:
            self._write_token(token_path)
            self._token_thread = threading.Thread(
                target=self._refresh_tokens, args=(token_path,), name="drillbook-load-token"
            )
            self._token_thread.daemon = True
            self._token_thread.start()
        plan_path = self._directory / "plan.json"
        plan_path.write_text(build_plan(self.config, samples_path, token_path).to_json())
        self._processes = start_locust(
            self._directory,
            plan_path=plan_path,
            base_url=self.config.target.base_url or "",
            users=self.settings.users,
            run_seconds=self.settings.max_duration_seconds,
            workers=self.settings.workers,
            external_workers=self.settings.external_workers,
            master_bind_host=self.settings.master_bind_host,
            master_port=self.settings.master_port,
            start_timeout=self.settings.start_timeout_seconds,
            env={},
            worker_key=self._worker_key(),
        )

    def _worker_key(self) -> str | None:
        variable = self.settings.worker_key_env
        if not variable:
            return None
        key = os.environ.get(variable, "")
        if not key:
            raise ConfigError(
                f"load.worker_key_env: ${variable} is not set; export the workers' key there "
                "(and the same value as DRILLBOOK_LOAD_WORKER_KEY on each worker)"
            )
        register_secret(key)
        return key

    def start(self, drill: Drill) -> None:
        if self._processes is None:
            self.prepare(drill)
        processes = self._processes
        assert processes is not None
        try:
            self._wait_for_baseline()
        except BaseException:
            self.stop(drill)
            raise
        drill.note(
            "load started",
            users=self.settings.users,
            rate=self.settings.rate,
            workers=self.settings.workers,
            master_port=processes.master_port,
        )

    def _write_token(self, path: Path) -> None:
        assert self._tokens is not None
        token = self._tokens.token() or ""
        write_private(path, token)  # whole tokens only, never a half-written one

    def _refresh_tokens(self, path: Path) -> None:
        # The probes' TokenProvider renews tokens before they expire and re-issues them after a
        # secret rotation; Locust reads whatever is current.
        assert self._tokens is not None
        last = ""
        generation = self._tokens.generation
        while not self._token_stop.is_set():
            # Wakes at once on a rotation, else every TOKEN_REFRESH_SECONDS for renewals.
            generation = self._tokens.wait_for_rotation(generation, TOKEN_REFRESH_SECONDS)
            if self._token_stop.is_set():
                return
            with contextlib.suppress(Exception):  # a token that cannot be minted: probes say so
                token = self._tokens.token() or ""
                if token != last:
                    self._write_token(path)
                    last = token

    def seconds_at_work(self) -> float:
        """How long the load has been running, from its first request seen (0 before that):
        the drill counts the load's own baseline as time its steady state was watched."""
        if self._load_seen_at is None:
            return 0.0
        return time.monotonic() - self._load_seen_at

    def _wait_for_baseline(self) -> None:
        assert self._processes is not None
        deadline = time.monotonic() + self.settings.start_timeout_seconds
        first: float | None = None
        while True:
            samples = self.samples()
            if samples and first is None:
                first = time.monotonic()
                self._load_seen_at = first
            if first is not None and time.monotonic() - first >= self.settings.baseline_seconds:
                return
            if not self._processes.alive():
                raise LoadNotStarted(
                    "Locust exited before the fault (nothing was injected); its log:\n"
                    + self._processes.log_tail()
                )
            if time.monotonic() >= deadline:
                raise LoadNotStarted(
                    f"Locust sent no request within {self.settings.start_timeout_seconds:.0f}s "
                    "(nothing was injected); raise [load] start_timeout or check its log:\n"
                    + self._processes.log_tail()
                )
            time.sleep(_POLL_SECONDS)

    def stop(self, drill: Drill) -> None:
        self._token_stop.set()
        if self._token_thread is not None:
            self._token_thread.join(5.0)
        if self._processes is not None:
            self.exit_codes = self._processes.stop()
            self._log_tail = self._processes.log_tail()
            self._processes = None
        self.samples()  # the last lines written before the processes exited
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None

    # -- measurements --------------------------------------------------------------------
    def samples(self) -> list[LoadSample]:
        """Every request recorded so far (reads what the Locust processes appended)."""
        with self._lock:
            if self._directory is not None:
                path = self._directory / "samples.jsonl"
                with contextlib.suppress(FileNotFoundError), open(path, "rb") as fh:
                    fh.seek(self._offset)
                    data = fh.read()
                    self._offset += len(data)
                    text = self._partial + data.decode("utf-8", errors="replace")
                    lines = text.split("\n")
                    self._partial = lines.pop()  # a line still being written
                    for line in lines:
                        sample = sample_from_json(
                            line, wall_offset=self._wall_offset, local_node=self._node
                        )
                        if sample is not None:
                            self._samples.append(sample)
            return list(self._samples)

    def bounds(self) -> PhaseBounds:
        return drill_phase_bounds(self._drill) if self._drill is not None else PhaseBounds()

    def phase_stats(self) -> dict[Phase, PhaseStats]:
        return stats_by_phase(self.samples(), self.bounds())

    def settled_stats(self, settle_seconds: float) -> PhaseStats | None:
        """After recovery, from `settle_seconds` after it on; None before recovery."""
        recovered = self.bounds().recovered_at
        if recovered is None:
            return None
        since = recovered + settle_seconds
        return phase_stats(
            "recovered", [s for s in self.samples() if s.sent_at >= since], since=since
        )

    def figures(self) -> Mapping[str, Any]:
        samples = self.samples()
        stats = stats_by_phase(samples, self.bounds())
        return {
            "users": self.settings.users,
            "rate_per_second": self.settings.rate,
            "workers": self.settings.workers,
            "requests": len(samples),
            "endpoints": requests_by_endpoint(samples),
            "phases": {phase: s.to_json() for phase, s in stats.items()},
            "thresholds": {
                "error_rate_margin": self.settings.error_rate_margin,
                "latency_ratio_max": self.settings.latency_ratio_max,
                "latency_slack_seconds": self.settings.latency_slack_seconds,
                "min_requests": self.settings.min_requests,
            },
        }

    def attachments(self) -> list[Attachment]:
        samples = self.samples()
        bounds = self.bounds()
        stats = stats_by_phase(samples, bounds)
        origin = (
            bounds.fault_at
            if bounds.fault_at is not None
            else (min((s.sent_at for s in samples), default=0.0))
        )
        attachments = [
            Attachment("load-phases.html", phase_table_html(stats), "text/html"),
            Attachment(
                "load-chart.svg",
                render_load_svg(samples, bounds, origin=origin, title="load: latency and errors"),
                "image/svg+xml",
            ),
            Attachment("load-samples.csv", samples_csv(samples, origin), "text/csv"),
        ]
        if self._log_tail.strip():
            attachments.append(Attachment("locust log", self._log_tail))
        return attachments


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f}"


def phase_table_html(stats: Mapping[Phase, PhaseStats]) -> str:
    """Per-phase load figures as a small HTML table (an Allure attachment)."""
    rows = []
    for phase, s in stats.items():
        rate = "-" if s.error_rate is None else f"{s.error_rate:.2%}"
        rps = "-" if s.requests_per_second is None else f"{s.requests_per_second:.1f}"
        title = PHASE_TITLES[phase]
        rows.append(
            f"<tr><th>{title}</th><td>{s.requests}</td><td>{rps}</td><td>{s.errors}</td>"
            f"<td>{rate}</td><td>{s.throttled}</td><td>{_ms(s.p50_seconds)}</td>"
            f"<td>{_ms(s.p95_seconds)}</td><td>{_ms(s.p99_seconds)}</td></tr>"
        )
    return (
        "<html><body><table border='1' cellpadding='4' style='border-collapse:collapse'>"
        "<tr><th>phase</th><th>requests</th><th>req/s</th><th>errors</th><th>error rate</th>"
        "<th>throttled</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th></tr>"
        + "".join(rows)
        + "</table></body></html>\n"
    )


def samples_csv(samples: list[LoadSample], origin: float) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["endpoint", "t_sent", "latency_s", "ok", "http_status", "error"])
    for s in sorted(samples, key=lambda s: s.sent_at):
        writer.writerow(
            [
                s.endpoint,
                f"{s.sent_at - origin:.4f}",
                f"{s.latency_seconds:.4f}",
                "ok" if s.ok else ("throttled" if s.throttled else "error"),
                "" if s.http_status is None else s.http_status,
                s.error,
            ]
        )
    return out.getvalue()


def load_companion(target: Target, identity: DrillIdentity) -> LoadCompanion | None:
    """The companion factory (drillbook.assembly.companions): None when load is disabled."""
    config = target.config
    if not config.load.enabled or config.target.base_url is None:
        return None
    return LoadCompanion(config, tokens=target.tokens)
