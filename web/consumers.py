"""The live page's WebSocket: the browser of the recording's owner joins the workout's group,
and each `sets.changed` the pipeline publishes (journal/notices.py) is answered with the page's
freshly rendered sets. Only low-rate UI updates travel over the channel layer."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.template.loader import render_to_string

from ingest.models import Recording
from journal.notices import page_closed, page_opened, workout_group
from web.views.workouts import live_context

NOT_YOURS = 4404  # also for anonymous visitors: nothing tells them the recording exists


class LiveWorkoutConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope["user"]
        recording_id = self.scope["url_route"]["kwargs"]["recording_id"]
        self.recording = None
        if user.is_authenticated:
            self.recording = await Recording.objects.filter(id=recording_id, owner=user).afirst()
        if self.recording is None:
            await self.close(code=NOT_YOURS)
            return
        self.group = workout_group(self.recording.id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await page_opened(self.recording.id, self.channel_name)
        await self.accept()
        await self.sets_changed({})  # whatever happened between the page's render and now

    async def disconnect(self, code):
        if self.recording is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            await page_closed(self.recording.id, self.channel_name)

    async def sets_changed(self, event):
        await self.send_json(await database_sync_to_async(self._render)())

    def _render(self) -> dict:
        self.recording.refresh_from_db(fields=["status"])
        context = live_context(self.recording)
        return {"html": render_to_string("web/_live_sets.html", context), "ended": context["ended"],
                "finalized": context["finalized"]}
