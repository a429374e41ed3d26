"""A watch simulator: streams recordings over the real WebSocket exactly as a watch would.

Each simulated watch paces its frames in real time (or `speed` times faster), waits for
each frame's ack, and, when the connection drops, reconnects, resumes with `start` and
re-sends from the server's `next_seq`. It is how we demo and load-test without a watch.
Django-free: it only needs the URL and a token.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import orjson
import websockets

RETRY_PAUSE_S = 0.5
MAX_RECONNECTS = 50


class WatchFailed(Exception):
    """The server refused something a correct watch would not recover from."""


@dataclass
class WatchReport:
    session: uuid.UUID
    frames_total: int
    frames_sent: int = 0
    frames_acked: int = 0
    resends: int = 0
    reconnects: int = 0
    ended: bool = False
    errors: Counter = field(default_factory=Counter)
    ack_ms: list[float] = field(default_factory=list)
    acked_at: list[float] = field(default_factory=list)  # time.monotonic() of each ack
    started_monotonic: float = 0.0  # time.monotonic() when sample 0 was due: sample s is due s/rate/speed later

    def acknowledged(self, sent_at: float) -> None:
        """A frame sent at time.perf_counter() `sent_at` was acknowledged now."""
        self.ack_ms.append((time.perf_counter() - sent_at) * 1000)
        self.acked_at.append(time.monotonic())
        self.frames_acked += 1


@dataclass
class Watch:
    url: str
    token: str
    samples: np.ndarray  # (samples, channels)
    channels: list[str]
    rate_hz: float
    frame_size: int = 50
    speed: float = 1.0
    session: uuid.UUID = field(default_factory=uuid.uuid4)
    drop_every: int | None = None  # cut the connection after every N-th frame is sent (fault drill)

    @property
    def n_frames(self) -> int:
        return -(-len(self.samples) // self.frame_size)

    def frame(self, seq: int) -> str:
        rows = self.samples[seq * self.frame_size:(seq + 1) * self.frame_size]
        return orjson.dumps(
            {"type": "frame", "session": str(self.session), "seq": seq, "samples": rows},
            option=orjson.OPT_SERIALIZE_NUMPY,
        ).decode()  # a text message: v1 is JSON text

    def due(self, seq: int, t0: float) -> float:
        """A frame leaves once its last sample has been measured."""
        end_sample = min((seq + 1) * self.frame_size, len(self.samples))
        return t0 + end_sample / self.rate_hz / self.speed

    async def run(self) -> WatchReport:
        t0 = time.monotonic()
        report = WatchReport(self.session, self.n_frames, started_monotonic=t0)
        failures = 0  # in a row: the back-off grows while the server stays unreachable
        while True:
            try:
                async with websockets.connect(
                    self.url, additional_headers={"Authorization": f"Bearer {self.token}"},
                    open_timeout=30, ping_interval=None, max_size=2**20,
                    compression=None,  # as most watch WebSocket stacks: deflate costs both ends CPU per frame
                ) as ws:
                    next_seq = await self._resume(ws, report)
                    failures = 0
                    await self._stream(ws, report, next_seq, t0)
                    await self._end(ws, report)
                    return report
            except (OSError, websockets.ConnectionClosed, asyncio.TimeoutError):
                report.reconnects += 1
                failures += 1
                if failures > MAX_RECONNECTS:
                    raise WatchFailed(f"{self.session}: server unreachable after {MAX_RECONNECTS} tries") from None
                await asyncio.sleep(min(RETRY_PAUSE_S * (failures - 1), 5))

    async def _request(self, ws, message: dict) -> dict:
        await ws.send(orjson.dumps(message).decode())
        return orjson.loads(await ws.recv())

    async def _resume(self, ws, report: WatchReport) -> int:
        start = {"type": "start", "session": str(self.session), "rate_hz": self.rate_hz, "channels": self.channels,
                 "started_at": datetime.now(UTC).isoformat()}
        reply = await self._request(ws, start)
        while reply.get("code") == "rate_limited":  # reconnecting too often: the server says when to try again
            report.errors["rate_limited"] += 1
            await asyncio.sleep(reply["retry_after_s"])
            reply = await self._request(ws, start)
        if reply.get("type") != "started":
            raise WatchFailed(f"{self.session}: start refused: {reply}")
        return reply["next_seq"]

    async def _stream(self, ws, report: WatchReport, seq: int, t0: float) -> None:
        sent_on_this_connection = 0
        while seq < self.n_frames:
            delay = self.due(seq, t0) - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            payload = self.frame(seq)
            sent_at = time.perf_counter()
            await ws.send(payload)
            report.frames_sent += 1
            sent_on_this_connection += 1
            if self.drop_every and sent_on_this_connection % self.drop_every == 0:
                await ws.close()  # the ack, if any, is lost with the connection
                raise websockets.ConnectionClosedOK(None, None)
            reply = orjson.loads(await ws.recv())
            if reply.get("type") == "ack" and reply["seq"] == seq:
                report.acknowledged(sent_at)
                seq += 1
                continue
            code = reply.get("code")
            report.errors[code] += 1
            report.resends += 1
            if code in ("rate_limited", "backlog"):
                await asyncio.sleep(reply["retry_after_s"])
            elif code == "storage_unavailable":
                await asyncio.sleep(RETRY_PAUSE_S)
            elif code == "out_of_order":
                seq = reply["expected_seq"]
            else:
                raise WatchFailed(f"{self.session}: frame {seq} refused: {reply}")

    async def _end(self, ws, report: WatchReport) -> None:
        reply = await self._request(ws, {"type": "end", "session": str(self.session), "last_seq": self.n_frames - 1})
        if reply.get("type") != "ended":
            raise WatchFailed(f"{self.session}: end refused: {reply}")
        report.ended = True


async def run_watches(watches: list[Watch], *, ramp_s: float = 0.0) -> list[WatchReport]:
    """Run watches concurrently, their starts spread evenly over `ramp_s` seconds."""

    async def start_later(index: int, watch: Watch) -> WatchReport:
        await asyncio.sleep(ramp_s * index / max(len(watches), 1))
        return await watch.run()

    return await asyncio.gather(*(start_later(i, watch) for i, watch in enumerate(watches)))


def summarize(reports: list[WatchReport]) -> dict:
    settled = max((r.started_monotonic for r in reports), default=0.0) + SETTLE_S
    ack_ms = np.concatenate([np.asarray(r.ack_ms) for r in reports]) if reports else np.empty(0)
    errors = sum((r.errors for r in reports), Counter())
    return {
        "watches": len(reports),
        "frames_total": sum(r.frames_total for r in reports),
        "frames_sent": sum(r.frames_sent for r in reports),
        "frames_acked": sum(r.frames_acked for r in reports),
        "resends": sum(r.resends for r in reports),
        "reconnects": sum(r.reconnects for r in reports),
        "ended": sum(r.ended for r in reports),
        "errors": dict(errors),
        "ack_p50_ms": round(float(np.percentile(ack_ms, 50)), 2) if len(ack_ms) else None,
        "ack_p99_ms": round(float(np.percentile(ack_ms, 99)), 2) if len(ack_ms) else None,
        # a watch's first frame opens its recording, the costly one: apart, so a start-up burst shows as one
        "ack_p99_ms_first_frame": _p99([r.ack_ms[:1] for r in reports]),
        # once all have started and the burst has settled: what the server holds in steady state
        "ack_p99_ms_steady": _p99([[ms for ms, at in zip(r.ack_ms, r.acked_at) if at >= settled] for r in reports]
                                  ) if reports else None,
    }


# Seconds after the last watch started from which its acks count as the steady state.
SETTLE_S = 10.0


def _p99(ack_ms: list[list[float]]) -> float | None:
    values = np.concatenate([np.asarray(a, dtype=float) for a in ack_ms]) if ack_ms else np.empty(0)
    return round(float(np.percentile(values, 99)), 2) if len(values) else None
