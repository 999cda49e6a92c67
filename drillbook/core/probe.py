"""What the engine asks of a probe: one sample now.

Every probe kind (drillbook.probes: HTTP, Weaviate, the pod-readiness view) has a
`sample(clock) -> Sample` method; the background prober and the checklist call nothing else, and
the classification into ok/down/error/throttled is the probe's own job.
"""

from __future__ import annotations

from typing import Protocol

from drillbook.core.clock import Clock
from drillbook.core.timeline import Sample


class Probe(Protocol):
    def sample(self, clock: Clock) -> Sample:
        """Probe the target once; the sample carries the clock's send time."""
        ...
