"""The Celery app. Settings come from Django's (CELERY_* names)."""

import os
import time

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("journal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

HEARTBEAT_KEY = "journal:worker:heartbeat"


@app.task(ignore_result=True)
def heartbeat() -> None:
    """Proves that beat, the broker and a worker all work: /healthz reads its time back."""
    from config.redis import redis_client

    redis_client().set(HEARTBEAT_KEY, time.time())


@app.on_after_finalize.connect
def schedule_heartbeat(sender: Celery, **kwargs) -> None:
    from django.conf import settings

    from journal.tasks import sweep_recordings

    sender.add_periodic_task(settings.WORKER_HEARTBEAT_SECONDS, heartbeat.s(), name="worker heartbeat")
    sender.add_periodic_task(settings.PIPELINE_SWEEP_SECONDS, sweep_recordings.s(), name="final passes of quiet recordings")
