"""``/ws/notifications/``: one socket per open page, fed from the user's group."""

from channels.db import database_sync_to_async

from accounts.selectors import notification_unread_count
from skilllink.realtime import user_group
from skilllink.sockets import JsonSocketConsumer


class NotificationConsumer(JsonSocketConsumer):
    async def connect(self):
        if not self.user.is_authenticated:
            await self.refuse_unauthenticated()
            return
        self.group = user_group(self.user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        # Catch up from the database: nothing depends on a push having arrived.
        count = await database_sync_to_async(notification_unread_count)(user=self.user)
        await self.send_json({"type": "unread", "count": count})

    async def disconnect(self, code):
        group = getattr(self, "group", None)
        if group:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def notification_created(self, event):
        await self.send_json({"type": "notification", "notification": event["notification"]})

    async def notification_unread(self, event):
        await self.send_json({"type": "unread", "count": event["count"]})

    async def booking_updated(self, event):
        # Pages showing sessions (dashboard, "My sessions", a session's page) update live.
        await self.send_json({"type": "booking", "booking": event["booking"]})
