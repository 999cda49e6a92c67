"""The notes service with exactly one defect: it ignores SIGTERM.

A process that does not stop on SIGTERM makes every rolling restart and scale-down wait for its
grace period to run out and the SIGKILL that follows, dropping its in-flight work: the
shutdown-grace finding (drillbook.companions.shutdown_watch). Everything else is the notes
service (tests/services/notes_service.py) unchanged.

    python -m tests.services.stubborn_notes --port 8080
"""

from __future__ import annotations

import argparse
import contextlib
import signal
from collections.abc import Generator

import uvicorn

from tests.services.notes_service import Settings, create_app


class DeafToSigterm(uvicorn.Server):
    """uvicorn, listening to SIGINT only: SIGTERM is ignored (the defect)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        previous = signal.signal(signal.SIGINT, self.handle_exit)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    config = uvicorn.Config(
        create_app(Settings.from_env()),
        host="127.0.0.1",
        port=args.port,
        log_level="info",
        access_log=False,
    )
    DeafToSigterm(config).run()


if __name__ == "__main__":
    main()
