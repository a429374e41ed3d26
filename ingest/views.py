"""Sensor Logger's HTTP Push door (ingest/push.py): the same codes and sentences as protocol v1's
errors, as HTTP statuses."""

from __future__ import annotations

import logging

import redis
from channels.db import database_sync_to_async
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ingest import push
from ingest.consumer import authenticate, device_bucket
from ingest.protocol import ErrorCode, ProtocolError
from ingest.signals import frames_stored
from ingest.storage import append_to_streams

log = logging.getLogger(__name__)

STATUS_OF_CODE = {
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.SESSION_FORBIDDEN: 403,
    ErrorCode.TOO_LARGE: 413,
    ErrorCode.NON_FINITE: 422,
    ErrorCode.OUT_OF_RANGE: 422,
    ErrorCode.RATE_LIMITED: 429,
}


def _token(request) -> str | None:
    """`Authorization: Bearer …`, else `?token=…` (what the app's URL field can carry)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.GET.get("token")


def _refused(error: ProtocolError) -> JsonResponse:
    return JsonResponse(error.as_message(), status=STATUS_OF_CODE.get(error.code, 400))


@csrf_exempt
@require_POST
async def sensor_logger_push(request):
    try:
        return await _receive(request)
    except ProtocolError as error:
        return _refused(error)


async def _receive(request) -> JsonResponse:
    device = await authenticate(_token(request))
    if device is None:
        raise ProtocolError(ErrorCode.UNAUTHORIZED, "missing, unknown or revoked device token: add ?token=… to the URL")
    limit = settings.INGEST_MAX_PUSH_BYTES
    try:
        declared = int(request.headers.get("Content-Length") or 0)
        if declared > limit:
            raise RequestDataTooBig
        body = request.body
    except (RequestDataTooBig, ValueError):
        raise ProtocolError(ErrorCode.TOO_LARGE, f"a body over {limit} bytes; shorten the app's batch period",
                            limit=limit) from None
    if len(body) > limit:
        raise ProtocolError(ErrorCode.TOO_LARGE, f"a body of {len(body)} bytes; the limit is {limit}", limit=limit)
    message = push.parse_body(body)
    wait = device_bucket("push", device.id, settings.INGEST_MAX_FRAMES_PER_SECOND, settings.INGEST_FRAME_BURST).take()
    if wait:
        raise ProtocolError(ErrorCode.RATE_LIMITED, f"more than {settings.INGEST_MAX_FRAMES_PER_SECOND:g} messages/s "
                            "from this device", retry_after_s=round(wait, 3))
    ios = request.GET.get("platform", "ios").lower() != "android"
    stored, frames = await database_sync_to_async(push.receive, thread_sensitive=False)(device, message, ios=ios)
    if frames:
        await _hand_over(frames)
    return JsonResponse({"stored": stored})


async def _hand_over(frames: list) -> None:
    """The frames are archived already: the stream and the pipeline's trigger follow. Redis away
    loses neither (the pipeline reads the archive where the stream lacks a frame, and the sweep
    finds a recording whose step was never queued)."""
    try:
        await append_to_streams(frames)
    except (redis.RedisError, OSError):
        log.warning("pushed frames not streamed", exc_info=True, extra={"recording": str(frames[0].recording_id)})
    for receiver, outcome in await frames_stored.asend_robust(push.__name__, recording_ids={f.recording_id for f in frames}):
        if isinstance(outcome, Exception):
            log.warning("frames_stored listener failed", extra={"receiver": repr(receiver), "error": repr(outcome)})
