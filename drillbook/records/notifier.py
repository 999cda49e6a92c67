"""Delivering the ladder's messages: webhooks (Slack-compatible JSON) and email (SMTP), from a
background thread with bounded timeouts.

A drill never waits for a receiver: the drill's thread only queues messages. The worker sends
each once, within `[notify] timeout`; whatever fails (a dead receiver, a refused login, an
unset variable) is logged and kept as a `DeliveryFailure`, which the run summary names. At the
run's end `close` waits for the queue to drain, for a bounded time only.
"""

from __future__ import annotations

import logging
import os
import queue
import smtplib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage

import httpx

from drillbook.config.model import NotifySettings
from drillbook.core.record import DrillRecord
from drillbook.core.redaction import REDACTOR, register_secret
from drillbook.records.ladder import LadderState, Outgoing

__all__ = ["Delivery", "DeliveryFailure", "Notifier", "send_email", "send_webhook"]

log = logging.getLogger(__name__)

_TICK_SECONDS = 1.0
"""How often the worker looks whether an escalation or a status update is due."""


@dataclass(frozen=True)
class Delivery:
    """A message that reached its receiver."""

    channel: str
    event: str
    seconds: float


@dataclass(frozen=True)
class DeliveryFailure:
    """A message that did not: where to, which event, why (redacted)."""

    channel: str
    event: str
    reason: str

    def __str__(self) -> str:
        return f"notification ({self.event}) to {self.channel} failed: {self.reason}"


def send_webhook(url: str, text: str, *, timeout: float) -> None:
    """POST a Slack-compatible body ({"text": ...}); any non-2xx answer is a failure."""
    response = httpx.post(url, json={"text": text}, timeout=timeout)
    response.raise_for_status()


def send_email(
    settings: NotifySettings, to: str, subject: str, text: str, *, timeout: float
) -> None:
    smtp = settings.smtp
    assert smtp.host is not None  # the configuration requires it for any email rung
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content(text)
    with smtplib.SMTP(smtp.host, smtp.port, timeout=timeout) as client:
        if smtp.starttls:
            client.starttls()
        if smtp.user_env and smtp.password_env:
            client.login(os.environ.get(smtp.user_env, ""), os.environ.get(smtp.password_env, ""))
        client.send_message(message)


class Notifier:
    """The run's notifications: the ladder's state, a queue, and the worker that sends."""

    def __init__(
        self,
        settings: NotifySettings,
        *,
        run_label: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._state = LadderState(settings, run_label=run_label)
        self._lock = threading.Lock()
        self._queue: queue.Queue[Outgoing | None] = queue.Queue()
        self._stop = threading.Event()
        self.deliveries: list[Delivery] = []
        self.failures: list[DeliveryFailure] = []
        self._urls: dict[str, str | None] = {}
        for name, hook in settings.webhooks.items():
            url = hook.url if hook.url is not None else os.environ.get(hook.url_env or "")
            if hook.url_env and url:
                register_secret(url)  # Slack's URL is its token
            self._urls[name] = url or None
        if settings.smtp.password_env and os.environ.get(settings.smtp.password_env):
            register_secret(os.environ[settings.smtp.password_env])
        self._worker = threading.Thread(target=self._run, name="drillbook-notify", daemon=True)
        self._worker.start()

    # -- what the run tells it (from the drill's thread: never blocks) ------------------------
    def drill_started(self, title: str) -> None:
        self._submit(lambda now: self._state.started(title, now))

    def drill_recorded(self, record: DrillRecord) -> None:
        self._submit(lambda now: self._state.recorded(record, now))

    def run_finished(self, records: Sequence[DrillRecord]) -> None:
        self._submit(lambda now: self._state.finished(records, now))

    def close(self, timeout: float | None = None) -> list[DeliveryFailure]:
        """Wait (at most `timeout`, default: three deliveries' worth) for the queue to drain;
        what is still queued then is reported as not sent."""
        limit = timeout if timeout is not None else max(10.0, 3 * self._settings.timeout_seconds)
        self._queue.put(None)
        self._worker.join(limit)
        self._stop.set()
        while True:
            try:
                left = self._queue.get_nowait()
            except queue.Empty:
                break
            if left is not None:
                self._fail(left, f"not sent: the run ended {limit:.0f} s before it could be")
        return list(self.failures)

    # -- the worker ---------------------------------------------------------------------------
    def _submit(self, make: Callable[[float], list[Outgoing]]) -> None:
        with self._lock:
            messages = make(self._clock())
        for message in messages:
            self._queue.put(message)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                message = self._queue.get(timeout=_TICK_SECONDS)
            except queue.Empty:
                self._submit(self._state.tick)
                continue
            if message is None:
                return
            self._deliver(message)
            self._submit(self._state.tick)

    def _deliver(self, message: Outgoing) -> None:
        started = time.monotonic()
        timeout = self._settings.timeout_seconds
        try:
            if message.channel.kind == "webhook":
                url = self._urls.get(message.channel.name)
                if url is None:
                    hook = self._settings.webhooks[message.channel.name]
                    raise RuntimeError(f"${hook.url_env} is empty or unset")
                send_webhook(url, message.text, timeout=timeout)
            else:
                send_email(
                    self._settings,
                    message.channel.name,
                    message.subject,
                    message.text,
                    timeout=timeout,
                )
        except Exception as exc:  # a receiver's failure is reported, never raised into a drill
            self._fail(message, f"{type(exc).__name__}: {exc}")
            return
        self.deliveries.append(
            Delivery(str(message.channel), message.event, time.monotonic() - started)
        )

    def _fail(self, message: Outgoing, reason: str) -> None:
        failure = DeliveryFailure(str(message.channel), message.event, REDACTOR.redact(reason))
        log.warning("drillbook: %s", failure)
        self.failures.append(failure)
