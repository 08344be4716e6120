"""Delivery that never blocks probing: a bounded queue and a worker thread per notifier.

A dead endpoint only costs its own queue. Each message is retried with exponential backoff
(honouring Retry-After) unless the error is permanent; when a queue is full the new message
is dropped and counted, never waited for.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from agent.model import Notifier
from agent.notify import Message, Send, TransportError, senders

log = logging.getLogger(__name__)

MAX_BACKOFF = 300.0

Tally = Callable[[str, str], None]  # (notifier name, result: sent|failed|dropped|retried)
# A message's fate, once settled: (notifier name, message, sent | failed | dropped).
Done = Callable[[str, Message, str], None]


@dataclass
class _Lane:
    notifier: Notifier
    queue: queue.Queue[Message | None]
    thread: threading.Thread | None = None


def deliver(notifier: Notifier, message: Message, send: Send, outcome: Tally,
            sleep: Callable[[float], object] = time.sleep,
            stopping: Callable[[], bool] = lambda: False) -> bool:
    """Try to deliver one message with retries; return True if it was delivered."""
    delay = 1.0
    for attempt in range(notifier.retries + 1):
        try:
            send(notifier.spec, message, notifier.timeout)
        except TransportError as exc:
            last_try = exc.permanent or attempt == notifier.retries or stopping()
            log.warning("notifier %s: %s%s", notifier.name, exc,
                        "" if last_try else f" (retry {attempt + 1} of {notifier.retries})")
            if last_try:
                break
            outcome(notifier.name, "retried")
            sleep(min(exc.retry_after if exc.retry_after is not None else delay, MAX_BACKOFF))
            delay = min(delay * 2, MAX_BACKOFF)
        else:
            outcome(notifier.name, "sent")
            return True
    outcome(notifier.name, "failed")
    return False


class Dispatcher:
    def __init__(self, notifiers: tuple[Notifier, ...], outcome: Tally,
                 send: dict[str, Send] | None = None, done: Done | None = None) -> None:
        self._send = send or senders()
        self._outcome = outcome
        self._done = done or (lambda notifier, message, result: None)
        self._stopping = threading.Event()
        self._lanes = {n.name: _Lane(n, queue.Queue(maxsize=n.queue_size)) for n in notifiers}

    def start(self) -> None:
        for lane in self._lanes.values():
            lane.thread = threading.Thread(target=self._work, args=(lane,), daemon=True,
                                           name=f"notify-{lane.notifier.name}")
            lane.thread.start()

    def submit(self, notifier: str, message: Message) -> bool:
        """Queue a message without waiting; False (and counted as dropped) if the queue is
        full or the notifier unknown."""
        lane = self._lanes.get(notifier)
        if lane is not None:
            try:
                lane.queue.put_nowait(message)
                return True
            except queue.Full:
                log.error("notifier %s: queue full, dropping %r", notifier, message.title)
        self._outcome(notifier, "dropped")
        self._done(notifier, message, "dropped")
        return False

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the message in hand; what is still queued is left (the outbox keeps
        it, for the next dispatcher)."""
        self._stopping.set()
        for lane in self._lanes.values():
            with contextlib.suppress(queue.Full):  # a full lane sees _stopping instead
                lane.queue.put_nowait(None)
        deadline = time.monotonic() + timeout
        for lane in self._lanes.values():
            if lane.thread is not None:
                lane.thread.join(max(0.0, deadline - time.monotonic()))

    def _work(self, lane: _Lane) -> None:
        send = self._send[lane.notifier.spec.type]
        while not self._stopping.is_set():
            message = lane.queue.get()
            if message is None:
                return
            sent = deliver(lane.notifier, message, send, self._outcome, self._stopping.wait,
                           self._stopping.is_set)
            if sent or not self._stopping.is_set():  # cut short by a stop: still queued
                self._done(lane.notifier.name, message, "sent" if sent else "failed")
