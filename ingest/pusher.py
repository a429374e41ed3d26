"""A Sensor Logger simulator: an Apple Watch's wrist motion pushed over HTTP exactly as the app
pushes it (ingest/push.py), one message every batch period, for load tests and demos.

Its readings are the journal's samples in the app's units and sign (gravity in g as Apple's
inertial force, no user acceleration, rotation rate in rad/s), so what the server archives can be
compared with what was sent. Django-free: it only needs the URL and a token.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import uuid
from dataclasses import dataclass, field

import aiohttp
import numpy as np
import orjson

from ingest.simulator import RETRY_PAUSE_S, WatchFailed, WatchReport

MAX_RETRIES = 50
WRIST_FIELDS = [f"{quantity}{axis}" for quantity in ("gravity", "acceleration", "rotationRate") for axis in "XYZ"]


@dataclass
class Pusher:
    url: str  # http://host:port/ingest/sensor-logger/
    token: str
    samples: np.ndarray  # (samples, 6): acc_* in g, gyr_* in deg/s
    rate_hz: float
    batch_s: float = 1.0
    session_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started_ns: int = field(default_factory=time.time_ns)

    @property
    def batch(self) -> int:
        return max(1, round(self.batch_s * self.rate_hz))

    @property
    def n_messages(self) -> int:
        return -(-len(self.samples) // self.batch)

    def message(self, number: int) -> bytes:
        first = number * self.batch
        rows = self.samples[first:first + self.batch].astype(np.float64)
        values = np.column_stack([-rows[:, :3], np.zeros((len(rows), 3)), np.radians(rows[:, 3:])])
        times = self.started_ns + (np.arange(first, first + len(rows)) * 1e9 / self.rate_hz).astype(np.int64)
        payload = [{"name": "wristmotion", "time": int(t), "values": dict(zip(WRIST_FIELDS, row.tolist()))}
                   for t, row in zip(times, values)]
        return orjson.dumps({"messageId": number, "sessionId": self.session_id, "deviceId": "bench", "payload": payload})

    async def run(self, client: aiohttp.ClientSession) -> WatchReport:
        t0 = time.monotonic()
        report = WatchReport(uuid.UUID(self.session_id), self.n_messages, started_monotonic=t0)
        for number in range(self.n_messages):
            delay = t0 + min((number + 1) * self.batch, len(self.samples)) / self.rate_hz - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await self._push(client, report, number)
        report.ended = True
        return report

    async def _push(self, client: aiohttp.ClientSession, report: WatchReport, number: int) -> None:
        body = self.message(number)
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        for _ in range(MAX_RETRIES):
            sent_at = time.perf_counter()
            report.frames_sent += 1
            try:
                async with client.post(self.url, data=body, headers=headers) as answer:
                    status, text = answer.status, await answer.text()
            except (aiohttp.ClientConnectionError, asyncio.TimeoutError):
                report.reconnects += 1
                await asyncio.sleep(RETRY_PAUSE_S)
                continue
            if status == 200:
                report.acknowledged(sent_at)
                return
            reply = orjson.loads(text) if answer.content_type == "application/json" else {}
            report.errors[reply.get("code", status)] += 1
            report.resends += 1
            if status == 429 or status >= 500:  # asked to wait, or the server is away
                await asyncio.sleep(reply.get("retry_after_s", RETRY_PAUSE_S))
                continue
            raise WatchFailed(f"{self.session_id}: message {number} refused: {status} {text}")
        raise WatchFailed(f"{self.session_id}: message {number} not taken after {MAX_RETRIES} tries")


async def run_pushers(pushers: list[Pusher], *, ramp_s: float = 0.0) -> list[WatchReport]:
    """Run pushers concurrently, each on its own kept-alive connection, their starts spread over `ramp_s`."""
    tls = ssl.create_default_context()  # made once: a client each would cost tens of ms of CPU each

    async def start_later(index: int, pusher: Pusher) -> WatchReport:
        await asyncio.sleep(ramp_s * index / max(len(pushers), 1))
        # A client each, with one kept-alive connection, as each phone has.
        connector = aiohttp.TCPConnector(limit=1, ssl=tls)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30.0)) as client:
            return await pusher.run(client)

    return await asyncio.gather(*(start_later(i, pusher) for i, pusher in enumerate(pushers)))
