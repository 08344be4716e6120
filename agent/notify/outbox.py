"""Notifications that survive a restart: each message is in the ledger's outbox before it is
handed to its notifier's queue, and its fate (sent, failed, dropped) is recorded once settled,
so a restart sends again exactly what was still queued, with the same id."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import uuid
from collections.abc import Callable

from agent.ledger import Ledger, LedgerError
from agent.model import Notifier
from agent.notify import Message
from agent.notify.dispatch import Dispatcher
from agent.records import Batch, NotificationRecord, OutboxRecord

log = logging.getLogger(__name__)

Addressed = list[tuple[tuple[str, ...], Message]]  # messages, each with its notifiers


class Outbox:
    def __init__(self, ledger: Ledger, notifiers: tuple[Notifier, ...],
                 count: Callable[[str, str], None]) -> None:
        self._ledger = ledger
        self._count = count
        self._notifiers = notifiers
        self._dispatcher = self._dispatch(notifiers)

    def _dispatch(self, notifiers: tuple[Notifier, ...]) -> Dispatcher:
        return Dispatcher(notifiers, self._count, done=self._settled)

    def start(self) -> None:
        self._dispatcher.start()

    def stop(self) -> None:
        """Stop the delivery threads (what is still queued stays queued in the outbox)."""
        self._dispatcher.stop()

    async def replace(self, notifiers: tuple[Notifier, ...]) -> None:
        """A reload changed the notifiers: deliver through the new ones from now on."""
        self._dispatcher.stop()
        self._notifiers = notifiers
        self._dispatcher = self._dispatch(notifiers)
        self._dispatcher.start()
        await self.resend()

    @staticmethod
    def stage(notifications: Addressed, now: float, batch: Batch) -> Addressed:
        """Give each message an id and add it to `batch`: the notification's record, and a
        queued outbox record per notifier. Return the messages to `send` once it commits."""
        messages = [(names, dataclasses.replace(m, id=uuid.uuid4().hex))
                    for names, m in notifications]
        batch.notifications.extend(NotificationRecord(m.at, m.alert, m.status, m.title, names)
                                   for names, m in messages)
        batch.outbox.extend(OutboxRecord(m.id, name, dataclasses.asdict(m), "queued", now)
                            for names, m in messages for name in names)
        return messages

    def send(self, messages: Addressed) -> None:
        """Hand over messages whose `stage` is committed (so a crash cannot lose them)."""
        for names, message in messages:
            for name in names:
                self._dispatcher.submit(name, message)

    def _settled(self, notifier: str, message: Message, result: str) -> None:
        """A message's fate, from a delivery thread: the outbox says so (and a restart does
        not send a delivered one again)."""
        self._ledger.submit(Batch(outbox=[OutboxRecord(
            message.id, notifier, dataclasses.asdict(message), result, time.time())]))

    async def resend(self) -> None:
        """Queue again what the outbox says is still to be delivered (a restart, or a reload
        that replaced the notifiers): with the same id, so a receiver can tell."""
        loop = asyncio.get_running_loop()
        try:
            queued = await loop.run_in_executor(None, self._ledger.outbox_queued)
        except LedgerError as exc:
            log.warning("cannot read the notification outbox: %s", exc)
            return
        names = {n.name for n in self._notifiers}
        for record in queued:
            message = Message(**record.message)
            if record.notifier not in names:
                self._settled(record.notifier, message, "dropped")
                continue
            self._dispatcher.submit(record.notifier, message)
        if queued:
            log.info("%d queued notification(s) from the outbox sent again", len(queued))
