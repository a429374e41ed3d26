"""/healthz: is the database, Redis and a Celery worker (via beat's heartbeat) alive, and is the
pipeline keeping up with the watches?"""

import time

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from config.celery import HEARTBEAT_KEY
from config.redis import redis_client
from journal.lag import lag_seconds, streaming_recordings_with_lag


def _check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"ok": True}


def _check_redis() -> dict:
    redis_client().ping()
    return {"ok": True}


def _check_worker() -> dict:
    beat = redis_client().get(HEARTBEAT_KEY)
    if beat is None:
        return {"ok": False, "detail": "no worker heartbeat yet"}
    age = time.time() - float(beat)
    # Three missed beats: beat or every worker is down, or the broker is stuck.
    return {"ok": age < 3 * settings.WORKER_HEARTBEAT_SECONDS, "heartbeat_age_s": round(age, 1)}


def _check_pipeline() -> dict:
    recordings = list(streaming_recordings_with_lag())
    lags = [lag_seconds(recording) for recording in recordings]
    max_lag = max(lags, default=0.0)
    return {
        "ok": max_lag <= settings.PIPELINE_MAX_HEALTHY_LAG_SECONDS,
        "streaming_recordings": len(recordings),
        "max_lag_s": round(max_lag, 1),
        "frames_behind": sum(recording.frames_behind for recording in recordings),
    }


CHECKS = {"database": _check_database, "redis": _check_redis, "worker": _check_worker, "pipeline": _check_pipeline}


@require_GET
def healthz(request):
    results = {}
    for name, check in CHECKS.items():
        try:
            results[name] = check()
        except Exception as exc:  # a health check reports every failure, whatever its kind
            results[name] = {"ok": False, "detail": f"{type(exc).__name__}: {exc}"}
    healthy = all(result["ok"] for result in results.values())
    return JsonResponse({"ok": healthy, **results}, status=200 if healthy else 503)
