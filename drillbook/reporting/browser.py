"""Looking at a rendered report the way a person would: headless Chromium on a local server.

Used to check that the HTML report really shows what a drill recorded (the DOM after the
report's JavaScript ran) and to keep a screenshot of it as an artifact. Everything is
bounded: the server lives only inside a `with` block, every Chromium run has a virtual time
budget and a hard subprocess timeout, and each run gets a throw-away profile.
"""

from __future__ import annotations

import contextlib
import functools
import html
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Sequence
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from drillbook.errors import DrillError, MissingDependency

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PORT_RANGE = (20000, 32000)
HOST = "127.0.0.1"
_EXTRA_SECONDS = 60.0
"""Added to the virtual time budget for the subprocess timeout: Chromium's own start-up and
the real time that page loading takes beyond the virtual clock."""


class BrowserError(DrillError):
    """Headless Chromium failed or timed out; the message carries its stderr tail."""


def find_chromium() -> Path:
    """The Chromium binary: env DRILLBOOK_CHROMIUM, then the usual names on PATH."""
    override = os.environ.get("DRILLBOOK_CHROMIUM")
    if override:
        path = Path(override)
        if path.is_file() and os.access(path, os.X_OK):
            return path
        raise MissingDependency(
            f"DRILLBOOK_CHROMIUM={override!r} is not an executable file; unset it or point "
            "it at a Chromium binary, or install it with: apt-get install chromium"
        )
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return Path(found)
    raise MissingDependency(
        f"Chromium not found (looked for {', '.join(CHROMIUM_NAMES)} on PATH and env "
        "DRILLBOOK_CHROMIUM); install it with: apt-get install chromium"
    )


class _QuietHandler(SimpleHTTPRequestHandler):
    """Static files without one log line per request on stderr (it would flood test output)."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        pass


def _bind_free_port(directory: Path) -> ThreadingHTTPServer:
    handler = functools.partial(_QuietHandler, directory=str(directory))
    low, high = PORT_RANGE
    # A fixed range below Linux's ephemeral ports (32768+), so that no outgoing connection
    # can be handed our port, probed in random order so that parallel runs rarely collide.
    candidates = random.sample(range(low, high + 1), 50)
    for port in candidates:
        try:
            return ThreadingHTTPServer((HOST, port), handler)
        except OSError:
            continue
    raise BrowserError(f"no free TCP port on {HOST} in {low}-{high} after 50 attempts")


@contextlib.contextmanager
def serve_directory(path: Path) -> Iterator[str]:
    """Serve `path` over HTTP on 127.0.0.1 for the duration of the block; yields the base URL.

    The URL ends with "/", so `base + "index.html"` names a file in `path`.
    """
    directory = Path(path)
    if not directory.is_dir():
        raise FileNotFoundError(f"cannot serve {directory}: not a directory")
    server = _bind_free_port(directory)
    thread = threading.Thread(target=server.serve_forever, name="drillbook-http", daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def chromium_command(
    chromium: Path, profile: Path, wait_ms: int, extra: Sequence[str]
) -> list[str]:
    """The headless Chromium command line (public so that callers can log or adapt it)."""
    return [
        str(chromium),
        "--headless",
        "--no-sandbox",  # we run as root in containers, where the sandbox cannot start
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        # The machines have no internet: every background request (component updates,
        # sync, DNS look-ups of Google hosts) would hang the run until its own timeout.
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        # Virtual time runs as fast as the page lets it and stops after the budget, so the
        # report's JavaScript has "waited" wait_ms without us sleeping that long for real.
        f"--virtual-time-budget={wait_ms}",
        *extra,
    ]


def run_chromium(
    extra: Sequence[str], wait_ms: int, what: str, *, timeout: float | None = None
) -> bytes:
    """Run headless Chromium with `extra` arguments for `what` (named in errors); returns its
    stdout. `timeout` defaults to the page's budget plus a margin for Chromium's start."""
    if wait_ms < 0:
        raise ValueError(f"wait_ms must be >= 0, got {wait_ms}")
    chromium = find_chromium()
    profile = Path(tempfile.mkdtemp(prefix="drillbook-chromium-"))
    command = chromium_command(chromium, profile, wait_ms, extra)
    if timeout is None:
        timeout = wait_ms / 1000 + _EXTRA_SECONDS
    try:
        # A session of its own, so that on timeout the whole process group goes: Chromium
        # starts zygote, renderer and GPU processes that would outlive a killed parent.
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            _, stderr = process.communicate()
            raise BrowserError(
                f"headless Chromium did not finish {what} within {timeout:.0f} s; "
                f"stderr tail:\n{_tail(stderr)}"
            ) from exc
        if process.returncode != 0:
            raise BrowserError(
                f"headless Chromium failed {what} (exit status {process.returncode}); "
                f"stderr tail:\n{_tail(stderr)}"
            )
        return stdout
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(
    url: str, out_png: Path, *, width: int = 1400, height: int = 900, wait_ms: int = 3000
) -> Path:
    """Load `url` in headless Chromium and save a `width` x `height` PNG at `out_png`."""
    out = Path(out_png).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)  # so that a stale file cannot pass for a fresh screenshot
    run_chromium(
        [f"--window-size={width},{height}", "--hide-scrollbars", f"--screenshot={out}", url],
        wait_ms,
        f"the screenshot of {url}",
    )
    if not out.is_file() or out.stat().st_size == 0:
        raise BrowserError(f"headless Chromium exited normally but wrote no screenshot at {out}")
    return out


def dump_dom(url: str, *, wait_ms: int = 3000) -> str:
    """The serialized DOM of `url` after its scripts ran for `wait_ms` (virtual time)."""
    stdout = run_chromium(["--dump-dom", url], wait_ms, f"the DOM dump of {url}")
    return stdout.decode("utf-8", errors="replace")


_INVISIBLE = re.compile(r"<(script|style|template)\b[^>]*>.*?</\1\s*>", re.S | re.I)
_TAG = re.compile(r"<[^>]+>")


def visible_text(dom: str) -> str:
    """The text a reader sees in a dumped DOM: no scripts, styles or tags, blanks collapsed.

    A single-file Allure report carries all its data inside <script> elements, so checking
    the raw DOM for a name proves nothing; this is what the page actually rendered.
    """
    text = _TAG.sub(" ", _INVISIBLE.sub(" ", dom))
    return " ".join(html.unescape(text).split())


def _tail(stderr: bytes | str | None, lines: int = 20) -> str:
    if not stderr:
        return "(empty)"
    text = stderr.decode("utf-8", errors="replace") if isinstance(stderr, bytes) else stderr
    # Chromium logs harmless D-Bus complaints in containers; keep them out of the tail.
    kept = [line for line in text.splitlines() if "dbus" not in line.lower()]
    return "\n".join(kept[-lines:]) or "(only D-Bus noise)"
