"""`manage.py bench ingest`: many simulated watches over the real WebSocket into the real stack, or
(`--push`) as many Sensor Logger apps pushing their wrist motion over HTTP."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from pathlib import Path

import numpy as np
import psutil
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Sum

from config.processes import WebServer
from config.redis import redis_client
from classifier.gymformat import read_gym_csv
from ingest.models import SAMPLE_DTYPE, Device, Frame, Recording, hash_token
from ingest.push import recording_id
from ingest.push_door import PUSH_PATH
from ingest.pusher import Pusher, run_pushers
from ingest.simulator import Watch, run_watches, summarize
from ingest.handoff import stream_key

BENCH_USER = "bench-ingest"
# 50 Hz acc + gyro from an Apple Watch: the shape of the product's watch.
SIGNAL_GLOB = "gym/spar_shoulder_physio_seglearn/sessions/*.csv.gz"


def real_signal(data_dir: Path, seconds: float, rate_hz: float) -> np.ndarray:
    """Real recordings end to end, long enough for every watch to start at its own offset."""
    files = sorted(data_dir.glob(SIGNAL_GLOB))[:20]
    if not files:
        raise FileNotFoundError(f"no recordings match {data_dir / SIGNAL_GLOB}")
    signal = np.concatenate([read_gym_csv(path).samples for path in files])
    repeats = int(np.ceil(2 * seconds * rate_hz / len(signal))) + 1
    return np.tile(signal, (repeats, 1))


class PeakRss:
    """Samples a process tree's resident memory in the background; `.mb` is the peak."""

    def __init__(self, pid: int | None):
        self.pid, self.mb, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        process = psutil.Process(self.pid)
        while not self._stop.wait(0.5):
            tree = [process, *process.children(recursive=True)]
            self.mb = max(self.mb, sum(p.memory_info().rss for p in tree) / 2**20)

    def __enter__(self) -> PeakRss:
        if self.pid:
            self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()


def cpu_seconds(root_pid: int) -> float:
    """CPU seconds (user + system) of a process and its children now: the web server, the worker's pool."""
    try:
        root = psutil.Process(root_pid)
        return sum(sum(p.cpu_times()[:2]) for p in [root, *root.children(recursive=True)])
    except psutil.Error:
        return 0.0


def make_devices(n: int) -> list[str]:
    """n devices of the bench user; returns their tokens."""
    owner, _ = get_user_model().objects.get_or_create(username=BENCH_USER)
    tokens = [f"bench-{i}-{np.random.default_rng().integers(1 << 62)}" for i in range(n)]
    Device.objects.bulk_create(
        [Device(owner=owner, name=f"bench watch {i}", token_hash=hash_token(t), token_prefix=t[:8])
         for i, t in enumerate(tokens)]
    )
    return tokens


def clean_up() -> None:
    recordings = list(Recording.objects.filter(owner__username=BENCH_USER).values_list("id", flat=True))
    if recordings:
        redis_client().delete(*(stream_key(r) for r in recordings))
    get_user_model().objects.filter(username=BENCH_USER).delete()


def verify(fleet: list[Watch | Pusher], reports) -> tuple[int, int]:
    """(samples lost, samples duplicated): every acknowledged frame or message read back from the
    archive. A pushed reading is put on the grid by interpolation at its own time: equal to float
    rounding, not to the bit."""
    lost = duplicated = 0
    for sender, report in zip(fleet, reports):
        if isinstance(sender, Pusher):
            recording, acked = recording_id(sender.session_id), sender.samples[: report.frames_acked * sender.batch]
        else:
            recording, acked = sender.session, sender.samples[: report.frames_acked * sender.frame_size]
        stored = Frame.objects.filter(recording_id=recording).order_by("seq").values_list("samples", flat=True)
        archived = np.frombuffer(b"".join(stored), dtype=SAMPLE_DTYPE).reshape(-1, acked.shape[1])
        n_equal = min(len(acked), len(archived))
        different = ~np.isclose(archived[:n_equal], acked[:n_equal], rtol=1e-5, atol=1e-4).all(axis=1)
        lost += len(acked) - n_equal + int(different.sum())
        duplicated += max(0, len(archived) - len(acked))
    return lost, duplicated


def run(*, watches: int, seconds: float, url: str | None, push: bool = False, frame_samples: int = 50,
        rate_hz: float = 50.0, web_processes: int = 1) -> dict:
    clean_up()
    tokens = make_devices(watches)
    signal = real_signal(Path(settings.SHARED_DATA_DIR), seconds, rate_hz)
    n_samples = int(seconds * rate_hz)
    rng = np.random.default_rng(0)
    channels = ["acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z"]
    # The server runs as in production: DEBUG off (no query log), JSON logs.
    server = None if url else WebServer(env={
        "DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(32), "SECURE_SSL_REDIRECT": "0", "LOG_FORMAT": "json",
        "WEB_CONCURRENCY": str(web_processes),  # uvicorn's --workers
    }).start()
    try:
        fleet = []
        for token in tokens:
            offset = int(rng.integers(0, len(signal) - n_samples))
            samples = signal[offset:offset + n_samples]
            if push:
                fleet.append(Pusher(url=f"{url or server.http_url}/{PUSH_PATH}", token=token, samples=samples,
                                    rate_hz=rate_hz, batch_s=frame_samples / rate_hz))
            else:
                fleet.append(Watch(url=url or server.ws_url, token=token, samples=samples,
                                   channels=channels, rate_hz=rate_hz, frame_size=frame_samples))
        ramp_s = min(10.0, watches / 100)
        with PeakRss(server.process.pid if server else None) as rss:
            started, server_cpu_s = time.monotonic(), cpu_seconds(server.process.pid) if server else 0.0
            sender_cpu_s = time.process_time()
            reports = asyncio.run(run_pushers(fleet, ramp_s=ramp_s) if push else run_watches(fleet, ramp_s=ramp_s))
            wall_s, sender_cpu_s = time.monotonic() - started, time.process_time() - sender_cpu_s
            server_cpu_s = cpu_seconds(server.process.pid) - server_cpu_s if server else None
    finally:
        if server:
            server.stop()
    lost, duplicated = verify(fleet, reports)
    summary = summarize(reports)
    stored = Frame.objects.filter(recording__owner__username=BENCH_USER).aggregate(n=Sum("n_samples"))["n"] or 0
    clean_up()
    return {
        "door": "Sensor Logger HTTP push" if push else "WebSocket, protocol v1",
        "watches": watches,
        "web_processes": web_processes if server else None,
        "seconds": seconds,
        "frame_samples": frame_samples,
        "frames_sent": summary["frames_sent"],
        "frames_acked": summary["frames_acked"],
        "samples_stored": stored,
        "samples_lost": lost,
        "samples_duplicated": duplicated,
        "ack_p50_ms": summary["ack_p50_ms"],
        "ack_p99_ms": summary["ack_p99_ms"],
        "ack_p99_ms_first_frame": summary["ack_p99_ms_first_frame"],
        "ack_p99_ms_steady": summary["ack_p99_ms_steady"],
        "frames_per_s": round(summary["frames_acked"] / wall_s, 1),
        "wall_s": round(wall_s, 1),
        "reconnects": summary["reconnects"],
        "errors": summary["errors"],
        "server_rss_mb": round(rss.mb, 1) if server else None,
        # the web server's CPU per acknowledged frame (or push message), ramp included
        "server_cpu_ms_per_frame": round(1000 * server_cpu_s / max(1, summary["frames_acked"]), 3) if server else None,
        # the simulated watches' or apps' own CPU: they share the machine's cores with the server
        "sender_cpu_ms_per_frame": round(1000 * sender_cpu_s / max(1, summary["frames_acked"]), 3),
    }
