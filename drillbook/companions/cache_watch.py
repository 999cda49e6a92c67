"""Watches the cache beside every drill: hit rates per phase, the master, split brain.

A companion (drillbook.core.companions) that snapshots the Sentinels and every Redis node
(drillbook.probes.redis) every 100 ms from before the fault to after verification, and derives:

- hit rate per phase from INFO keyspace_hits/keyspace_misses (deltas per node; a restarted
  node's counters start again from zero, which the deltas account for);
- failover time: from the fault to the first snapshot in which every Sentinel names the same
  master, a different one than before the fault (error bar: one snapshot interval);
- split brain: every stretch of time in which two or more nodes reported role master, with its
  duration (a returning old master is one until Sentinel converts it).
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from drillbook.config.model import CacheSettings
from drillbook.core.companions import Attachment
from drillbook.core.phases import PHASE_TITLES, PHASES, Phase, PhaseBounds, drill_phase_bounds
from drillbook.probes.redis import CacheSnapshot, snapshot

if TYPE_CHECKING:
    from drillbook.engine.drill import Drill, DrillIdentity
    from drillbook.target import Target

INTERVAL_SECONDS = 0.1
MAX_SNAPSHOTS = 36_000
"""One hour at 100 ms: bounded even if a drill forgets to stop it."""


@dataclass(frozen=True)
class HitRate:
    hits: int
    misses: int

    @property
    def rate(self) -> float | None:
        total = self.hits + self.misses
        return self.hits / total if total else None

    def to_json(self) -> dict[str, Any]:
        rate = self.rate
        return {
            "hits": self.hits,
            "misses": self.misses,
            "hit_rate": None if rate is None else round(rate, 4),
        }


def hit_rates(snapshots: list[CacheSnapshot], bounds: PhaseBounds) -> dict[Phase, HitRate]:
    """Hits and misses per phase, from the per-node counter deltas between snapshots."""
    totals: dict[Phase, list[int]] = {phase: [0, 0] for phase in PHASES}
    last: dict[str, tuple[int, int]] = {}
    for snap in snapshots:
        phase = bounds.phase_of(snap.at)
        for node in snap.nodes.values():
            if node.keyspace_hits is None or node.keyspace_misses is None:
                continue
            now = (node.keyspace_hits, node.keyspace_misses)
            before = last.get(node.name)
            last[node.name] = now
            if before is None:
                continue  # the first reading of a node is its starting point
            for index in (0, 1):
                delta = now[index] - before[index]
                # A counter that went down belongs to a restarted node: it counted from zero.
                totals[phase][index] += delta if delta >= 0 else now[index]
    return {phase: HitRate(*values) for phase, values in totals.items()}


@dataclass(frozen=True)
class SplitBrain:
    started_at: float
    ended_at: float | None
    masters: tuple[str, ...]

    def seconds(self, now: float) -> float:
        return (self.ended_at if self.ended_at is not None else now) - self.started_at


def split_brains(snapshots: list[CacheSnapshot]) -> list[SplitBrain]:
    found: list[SplitBrain] = []
    current: tuple[float, tuple[str, ...]] | None = None
    for snap in snapshots:
        masters = tuple(snap.masters)
        if len(masters) > 1 and current is None:
            current = (snap.at, masters)
        elif len(masters) <= 1 and current is not None:
            found.append(SplitBrain(current[0], snap.at, current[1]))
            current = None
    if current is not None:
        found.append(SplitBrain(current[0], None, current[1]))
    return found


def failover_seconds(snapshots: list[CacheSnapshot], fault_at: float | None) -> float | None:
    """Fault to the first snapshot where all Sentinels agree on a master other than before."""
    if fault_at is None:
        return None
    before = [s.agreed_master for s in snapshots if s.at < fault_at and s.agreed_master]
    if not before:
        return None
    for snap in snapshots:
        if snap.at >= fault_at and snap.agreed_master not in (None, before[-1]):
            return snap.at - fault_at
    return None


class CacheWatch:
    """Background snapshots of the cache during one drill."""

    name = "cache"

    def __init__(
        self, settings: CacheSettings, *, interval_seconds: float = INTERVAL_SECONDS
    ) -> None:
        self.settings = settings
        self._interval = interval_seconds
        self._snapshots: list[CacheSnapshot] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._drill: Drill | None = None

    def start(self, drill: Drill) -> None:
        self._drill = drill
        self._thread = threading.Thread(
            target=self._loop, name="drillbook-cache-watch", daemon=True
        )
        self._thread.start()

    def _loop(self) -> None:
        for _ in range(MAX_SNAPSHOTS):
            taken = snapshot(self.settings, timeout=0.25)
            with self._lock:
                self._snapshots.append(taken)
            if self._stop.wait(self._interval):
                return

    def stop(self, drill: Drill) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)

    def snapshots(self) -> list[CacheSnapshot]:
        with self._lock:
            return list(self._snapshots)

    def bounds(self) -> PhaseBounds:
        return drill_phase_bounds(self._drill) if self._drill is not None else PhaseBounds()

    def figures(self) -> Mapping[str, Any]:
        snaps = self.snapshots()
        bounds = self.bounds()
        now = snaps[-1].at if snaps else 0.0
        brains = split_brains(snaps)
        failover = failover_seconds(snaps, bounds.fault_at)
        masters = [s.agreed_master for s in snaps if s.agreed_master]
        return {
            "hit_rates": {
                phase: rate.to_json() for phase, rate in hit_rates(snaps, bounds).items()
            },
            "failover_seconds": None if failover is None else round(failover, 3),
            "failover_error_bar_seconds": self._interval,
            "master_before": masters[0] if masters else None,
            "master_after": masters[-1] if masters else None,
            "split_brain_seconds": round(sum(b.seconds(now) for b in brains), 3),
            "split_brains": [
                {
                    "from_fault_seconds": None
                    if bounds.fault_at is None
                    else round(b.started_at - bounds.fault_at, 3),
                    "seconds": round(b.seconds(now), 3),
                    "masters": list(b.masters),
                    "ended": b.ended_at is not None,
                }
                for b in brains
            ],
            "snapshots": len(snaps),
        }

    def attachments(self) -> list[Attachment]:
        figures = self.figures()
        rows = []
        for phase in PHASES:
            rate = figures["hit_rates"][phase]
            shown = "-" if rate["hit_rate"] is None else f"{rate['hit_rate']:.1%}"
            rows.append(
                f"<tr><th>{PHASE_TITLES[phase]}</th><td>{rate['hits']}</td>"
                f"<td>{rate['misses']}</td><td>{shown}</td></tr>"
            )
        failover = figures["failover_seconds"]
        table = (
            "<html><body><table border='1' cellpadding='4' style='border-collapse:collapse'>"
            "<tr><th>phase</th><th>keyspace hits</th><th>misses</th><th>hit rate</th></tr>"
            + "".join(rows)
            + "</table><p>failover time: "
            + ("none (the master did not change)" if failover is None else f"{failover:.3f} s")
            + f"; master before {figures['master_before']}, after {figures['master_after']}"
            + f"; split brain (two masters at once): {figures['split_brain_seconds']:.3f} s</p>"
            + "</body></html>\n"
        )
        return [
            Attachment("cache-hit-rates.html", table, "text/html"),
            Attachment("cache-watch.csv", self._csv(), "text/csv"),
        ]

    def _csv(self) -> str:
        snaps = self.snapshots()
        origin = self.bounds().fault_at or (snaps[0].at if snaps else 0.0)
        out = io.StringIO()
        writer = csv.writer(out)
        nodes = sorted(self.settings.nodes)
        sentinels = list(self.settings.sentinels)
        writer.writerow(
            ["t", *[f"sentinel {s}" for s in sentinels], *[f"{n} role" for n in nodes],
             *[f"{n} hits" for n in nodes], *[f"{n} misses" for n in nodes]]
        )  # fmt: skip
        for snap in snaps:
            states = [snap.nodes.get(n) for n in nodes]
            writer.writerow(
                [f"{snap.at - origin:.3f}",
                 *[snap.sentinel_masters.get(s) or "" for s in sentinels],
                 *[(s.role or "down") if s else "" for s in states],
                 *["" if s is None or s.keyspace_hits is None else s.keyspace_hits for s in states],
                 *["" if s is None or s.keyspace_misses is None else s.keyspace_misses
                   for s in states]]
            )  # fmt: skip
        return out.getvalue()


def cache_watch_companion(target: Target, identity: DrillIdentity) -> CacheWatch | None:
    """The companion factory: None when the target's cache has no Sentinels configured."""
    settings = target.config.cache
    if not settings.sentinels or not settings.nodes:
        return None
    return CacheWatch(settings)
