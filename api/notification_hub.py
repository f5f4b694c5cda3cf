"""Live inbox: one poller per API process tails the notifications table and feeds each
connected user's server-sent-events streams. Every replica tails the same table, so a
notification reaches its user whichever replica they are connected to."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict, deque

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schemas.notifications import NotificationOut
from store.tables import Notification

log = logging.getLogger(__name__)

_LOOK_BACK = 500


class NotificationHub:
    """Fans new inbox rows out to per-user queues."""

    def __init__(self, engine: AsyncEngine, poll_seconds: float) -> None:
        """Tail `engine`'s notifications table every `poll_seconds`."""
        self.engine = engine
        self.poll_seconds = poll_seconds
        self.subscribers: dict[str, set[asyncio.Queue[NotificationOut]]] = defaultdict(set)
        self.last_id: int | None = None  # found on the first successful read
        # Ids are handed out at insert but rows become visible at commit, so a lower id can
        # appear after a higher one: look back a window and skip what was already sent.
        self._sent: deque[int] = deque(maxlen=20_000)
        self._sent_set: set[int] = set()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Begin tailing after the newest existing row (found once the database answers)."""
        self._task = asyncio.create_task(self._run(), name="notification-hub")

    async def stop(self) -> None:
        """Stop tailing."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def subscribe(self, user_id: str) -> asyncio.Queue[NotificationOut]:
        """A queue that receives the user's new notifications."""
        queue: asyncio.Queue[NotificationOut] = asyncio.Queue(maxsize=1000)
        self.subscribers[user_id].add(queue)
        return queue

    def unsubscribe(self, user_id: str, queue: asyncio.Queue[NotificationOut]) -> None:
        """Forget a queue (the client went away)."""
        queues = self.subscribers.get(user_id)
        if queues is not None:
            queues.discard(queue)
            if not queues:
                del self.subscribers[user_id]

    def _remember(self, notification_id: int) -> None:
        if len(self._sent) == self._sent.maxlen:
            self._sent_set.discard(self._sent[0])
        self._sent.append(notification_id)
        self._sent_set.add(notification_id)

    async def _run(self) -> None:
        while True:
            try:
                await self._poll()
            except Exception:  # the database may be down for a while; keep tailing
                log.exception("the live inbox could not read new notifications")
            await asyncio.sleep(self.poll_seconds)

    async def _poll(self) -> None:
        async with AsyncSession(self.engine) as session:
            if self.last_id is None:
                newest = (await session.exec(select(func.max(Notification.id)))).one()
                self.last_id = int(newest or 0)
                known = await session.exec(
                    select(Notification.id).where(col(Notification.id) > self.last_id - _LOOK_BACK)
                )
                for notification_id in known:
                    if notification_id is not None:
                        self._remember(notification_id)
                return
            rows = await session.exec(
                select(Notification)
                .where(col(Notification.id) > self.last_id - _LOOK_BACK)
                .order_by(col(Notification.id))
                .limit(1000)
            )
            for row in rows:
                assert row.id is not None
                if row.id in self._sent_set:
                    continue
                self._remember(row.id)
                self.last_id = max(self.last_id, row.id)
                for queue in list(self.subscribers.get(row.recipient, ())):
                    try:
                        queue.put_nowait(NotificationOut.model_validate(row, from_attributes=True))
                    except asyncio.QueueFull:
                        # A client this far behind reconnects with Last-Event-ID.
                        self.unsubscribe(row.recipient, queue)
