"""``/ws/notifications/``: one socket per open page, fed from the user's group."""

from channels.db import database_sync_to_async

from accounts.selectors import (
    notification_payload,
    notification_unread_count,
    notifications_after,
)
from skilllink.realtime import user_group
from skilllink.sockets import CLOSE_TRY_AGAIN, JsonSocketConsumer


class NotificationConsumer(JsonSocketConsumer):
    last_notification_id = 0

    async def connect(self):
        if not self.user.is_authenticated:
            await self.refuse_unauthenticated()
            return
        if not await self.groups_join(user_group(self.user.pk)):
            await self.refuse(CLOSE_TRY_AGAIN)
            return
        await self.accept()
        # Catch up from the database: nothing depends on a push having arrived.
        count, self.last_notification_id = await database_sync_to_async(self._state)()
        await self.send_json({"type": "unread", "count": count})

    def _state(self) -> tuple[int, int]:
        latest = notifications_after(user=self.user, after_id=0, limit=1, newest=True)
        return notification_unread_count(user=self.user), latest[0].pk if latest else 0

    async def catch_up(self) -> None:
        """After a channel layer outage: the notifications created meanwhile, the unread
        count, and a ``resync`` so pages re-read the sessions they show."""
        missed = await database_sync_to_async(
            lambda: [
                notification_payload(n)
                for n in notifications_after(user=self.user, after_id=self.last_notification_id)
            ]
        )()
        for notification in missed:
            await self._send_notification(notification)
        count = await database_sync_to_async(notification_unread_count)(user=self.user)
        await self.send_json({"type": "unread", "count": count})
        await self.send_json({"type": "resync"})

    async def _send_notification(self, notification: dict) -> None:
        self.last_notification_id = max(self.last_notification_id, notification["id"])
        await self.send_json({"type": "notification", "notification": notification})

    async def notification_created(self, event):
        await self._send_notification(event["notification"])

    async def notification_unread(self, event):
        await self.send_json({"type": "unread", "count": event["count"]})

    async def credits_changed(self, event):
        # The header's balance (and the Credits page) update live.
        await self.send_json({"type": "credits", "credits": event["credits"]})

    async def booking_updated(self, event):
        # Pages showing sessions (dashboard, "My sessions", a session's page) update live.
        await self.send_json({"type": "booking", "booking": event["booking"]})
