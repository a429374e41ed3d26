"""`manage.py bench pipeline`: watches replay real workouts in real time through the whole stack
(simulator → WebSocket → Redis + PostgreSQL → Celery worker → journal sets). Measured: samples
lost or doubled, the time from a set's last sample (and, stricter, its last repetition) arriving
to its journal row holding the final count, whether the final pass equals the offline result, the
worst lag, worker memory; and, in this process, what one step costs late in a short and a long workout."""

from __future__ import annotations

import asyncio
import secrets
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import psutil
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import close_old_connections, connection
from django.utils import timezone

from classifier.gymformat import GymRecording, GymSession, read_gym_csv
from classifier.memory import teach
from classifier.recipes import GymRecipe
from classifier.segmentation import SegmenterConfig
from config.celery import app as celery_app
from config.processes import CeleryProcesses, WebServer
from config.redis import redis_client
from bench.ingest import BENCH_USER, clean_up, cpu_seconds, make_devices, verify
from ingest.models import Recording
from ingest.recordings import store_frames
from ingest.storage import AcceptedFrame
from ingest.simulator import Watch, WatchReport, run_watches, summarize
from journal.lag import lag_seconds, streaming_recordings_with_lag
from journal.models import AthleteMemory, ExerciseSet, Workout
from journal.pipeline import offline_sets
from journal.serving import model_for
from journal.tasks import process_recordings

WORKOUTS_GLOB = "gym/exermote_upperarm/sessions/*.csv.gz"  # continuous workouts: sets and rests
# A live step closes a set once the segmenter has decided (its lag) that enough rest followed it.
LIVE_CLOSE_S = SegmenterConfig.live_lag_s + SegmenterConfig.min_rest_s


class StackWatcher:
    """In the background: the bench's journal sets every `every_s` (when each count was first
    shown), the pipeline's worst lag, and the largest memory of one worker process."""

    def __init__(self, worker_pid: int, every_s: float = 0.25):
        self.worker_pid, self.every_s = worker_pid, every_s
        self.seen: list[tuple] = []  # (monotonic time, workout id, start_s, end_s, reps)
        self.max_lag_s = 0.0
        self.worker_rss_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        polls = 0
        while not self._stop.wait(self.every_s):
            now = time.monotonic()
            rows = ExerciseSet.objects.filter(workout__owner__username=BENCH_USER).values_list("workout_id", "start_s", "end_s", "reps")
            self.seen.extend((now, *row) for row in rows)
            polls += 1
            if polls % 4 == 0:  # once a second: the lag query and the process table cost more
                lags = [lag_seconds(r) for r in streaming_recordings_with_lag().filter(owner__username=BENCH_USER)]
                self.max_lag_s = max([self.max_lag_s, *lags])
                self.worker_rss_mb = max(self.worker_rss_mb, _largest_rss_mb(self.worker_pid))
        close_old_connections()

    def __enter__(self) -> StackWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()


def _drain_backlog(timeout_s: float = 900) -> None:
    """Wait for the tasks queued before the run (an interrupted earlier run's, for recordings
    since deleted) to be done: the stack is measured from an empty queue."""
    queue = celery_app.conf.task_default_queue
    backlog = redis_client().llen(queue)
    if not backlog:
        return
    print(f"bench pipeline: {backlog} tasks were queued before the run; waiting for the worker to drain them",
          file=sys.stderr)
    deadline = time.monotonic() + timeout_s
    while redis_client().llen(queue):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the worker did not drain the {queue!r} queue's backlog in {timeout_s:g} s")
        time.sleep(1)


def _services_cpu_s() -> tuple[float, float]:
    """CPU seconds of this machine's PostgreSQL and of its Redis processes (the embedded ones, or local servers)."""
    totals = {"postgres": 0.0, "redis-server": 0.0}
    for process in psutil.process_iter(["name"]):
        for name in totals:
            if name in (process.info["name"] or ""):
                try:
                    totals[name] += sum(process.cpu_times()[:2])
                except psutil.Error:
                    pass
    return totals["postgres"], totals["redis-server"]


def _wal_bytes() -> int:
    """Where PostgreSQL's write-ahead log is: what it wrote between two readings."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')")
        return int(cursor.fetchone()[0])


def _largest_rss_mb(root_pid: int) -> float:
    try:
        tree = psutil.Process(root_pid).children(recursive=True)
        return max((p.memory_info().rss for p in tree), default=0) / 2**20
    except psutil.Error:
        return 0.0


def latencies(fleet: list[Watch], reports: list[WatchReport], seen: list[tuple]) -> dict[str, list[float]]:
    """Per final set, seconds until a journal row over it showed its final count, counted from the
    arrival of the frame holding the set's last sample ("set_end", the issue's measure) and,
    stricter, from the frame holding its last repetition ("last_rep"; the set goes on for up to
    half a period after it). A row already showing the final count then counts as 0. Beside them,
    "set_start": from the arrival of the set's first sample until any row over it shows up; and
    "set_end" split in two: "closed_live", sets followed by enough rest for a live step to close
    them, and "closed_by_end", sets ending less than `LIVE_CLOSE_S` before their recording, which
    only its end (the final pass) closes."""
    by_workout: dict = {}
    for t, workout, start, end, reps in seen:
        by_workout.setdefault(workout, []).append((t, start, end, reps))
    out: dict[str, list[float]] = {"set_end": [], "last_rep": [], "set_start": [], "closed_live": [], "closed_by_end": []}
    for watch, report in zip(fleet, reports):
        polls = sorted(by_workout.get(watch.session, ()))
        recording_s = len(watch.samples) / watch.rate_hz
        for final in ExerciseSet.objects.filter(workout_id=watch.session).exclude(rep_times_s=[]):
            over = [(t, reps) for t, start, end, reps in polls if start < final.end_s and final.start_s < end]
            for key, instant_s in (("set_end", final.end_s), ("last_rep", final.rep_times_s[-1]), ("set_start", final.start_s)):
                frame_end = (int(instant_s * watch.rate_hz) // watch.frame_size + 1) * watch.frame_size
                arrived = report.started_monotonic + frame_end / watch.rate_hz / watch.speed
                delay = _first_showing([(t, key == "set_start" or reps == final.reps) for t, reps in over], arrived)
                if delay is not None:
                    out[key].append(delay)
                    if key == "set_end":
                        out["closed_by_end" if recording_s - final.end_s < LIVE_CLOSE_S else "closed_live"].append(delay)
    return out


def _first_showing(shown: list[tuple[float, bool]], arrived: float) -> float | None:
    """Seconds from `arrived` to the first poll showing the final count, the poll just before
    `arrived` included (as 0)."""
    before = [right for t, right in shown if t < arrived]
    if before and before[-1]:
        return 0.0
    return next((t - arrived for t, right in shown if t >= arrived and right), None)


def _percentiles(delays: list[float]) -> dict:
    if not delays:
        return {"p50_s": None, "p95_s": None, "max_s": None}
    return {"p50_s": round(float(np.percentile(delays, 50)), 2), "p95_s": round(float(np.percentile(delays, 95)), 2),
            "max_s": round(float(np.max(delays)), 2)}


def step_cost(recordings: list[GymRecording], minutes: float, *, steps: int = 60, memory: bool = False) -> dict:
    """What one live step (the Celery task's body, in this process) costs at the end of a workout
    `minutes` long: the `recordings` end to end (repeated as needed), a frame a second, all but
    the last `steps` frames stored and processed at once, then a step after each of the rest.
    Milliseconds of wall time and of this process's CPU (PostgreSQL's and Redis's not included).
    With `memory`, the athlete has a memory taught the recordings' own sets, which names every set.
    The recording belongs to the bench user: `clean_up()` removes it."""
    rate_hz, frame = recordings[0].rate_hz, int(recordings[0].rate_hz)
    samples = np.concatenate([r.samples for r in recordings])
    samples = np.resize(samples, (int(minutes * 60 * rate_hz), samples.shape[1]))
    owner, _ = get_user_model().objects.get_or_create(username=BENCH_USER)
    recording = Recording.objects.create(id=uuid.uuid4(), owner=owner, rate_hz=rate_hz, channels=recordings[0].channels,
                                         started_at=timezone.now())
    if memory:
        _teach_memory(owner, recording, recordings)
    frames = [AcceptedFrame(recording.id, seq, samples[start:start + frame]) for seq, start in enumerate(range(0, len(samples), frame))]
    store_frames(frames[:-steps])
    process_recordings([str(recording.id)])
    wall, cpu = [], []
    for accepted in frames[-steps:]:
        store_frames([accepted])
        started, started_cpu = time.perf_counter(), time.process_time()
        process_recordings([str(recording.id)])
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return {"wall_ms_mean": round(1000 * float(np.mean(wall)), 1), "wall_ms_p50": round(1000 * float(np.median(wall)), 1),
            "cpu_ms_mean": round(1000 * float(np.mean(cpu)), 1)}


def _teach_memory(owner, recording: Recording, recordings: list[GymRecording]) -> None:
    """The owner's memory for the model that will read `recording`, taught every labelled window of `recordings`."""
    served = model_for(recording)
    sessions = [GymSession(str(i), "bench", BENCH_USER, "", r) for i, r in enumerate(recordings)]
    windows = GymRecipe(channels=tuple(served.card.channels), rate_hz=served.card.rate_hz, window=served.card.window,
                        hop=served.card.hop).windows(sessions)
    names = np.array([windows.labels[i] for i in windows.y])
    memory = teach(served.card.labels, served.head, served.predict(windows.X).embeddings, names, windows.sets)
    AthleteMemory.objects.update_or_create(owner=owner, model_version=served.card.versioned_name,
                                           defaults={"data": memory.to_bytes(), "sets_taught": memory.sets_taught})


def _workout_files() -> list[Path]:
    files = sorted(Path(settings.SHARED_DATA_DIR).glob(WORKOUTS_GLOB))
    if not files:
        raise FileNotFoundError(f"no recordings match {settings.SHARED_DATA_DIR / WORKOUTS_GLOB}")
    return files


def run(*, watches: int, seconds: float, concurrency: int, step_minutes: tuple[float, ...] = (2, 60)) -> dict:
    recordings = [read_gym_csv(path) for path in _workout_files()]
    clean_up()
    step_ms = {f"{minutes:g}_min": step_cost(recordings, minutes) for minutes in step_minutes}
    clean_up()
    step_ms[f"{step_minutes[0]:g}_min_with_memory"] = step_cost(recordings, step_minutes[0], memory=True)
    clean_up()
    tokens = make_devices(watches)
    # As in production: DEBUG off (no query log), JSON logs.
    env = {"DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(32), "SECURE_SSL_REDIRECT": "0", "LOG_FORMAT": "json"}
    fleet = [
        Watch(url="", token=token, samples=r.samples[: int(seconds * r.rate_hz)], channels=r.channels,
              rate_hz=r.rate_hz, frame_size=int(r.rate_hz))  # one frame a second, as the product's watch
        for token, r in zip(tokens, (recordings[i % len(recordings)] for i in range(watches)))
    ]
    with WebServer(env=env) as server, CeleryProcesses(env=env, concurrency=concurrency) as celery:
        for watch in fleet:
            watch.url = server.ws_url
        _drain_backlog()
        with StackWatcher(celery.worker.pid) as watcher:
            started = time.monotonic()
            cpu_before = cpu_seconds(celery.worker.pid), cpu_seconds(server.process.pid), *_services_cpu_s(), _wal_bytes()
            reports = asyncio.run(run_watches(fleet, ramp_s=min(30.0, watches / 10)))
            streamed_s = time.monotonic() - started
            # While streaming only: the final passes after it are another cost.
            worker_cpu_s, web_cpu_s, postgres_cpu_s, redis_cpu_s, wal_bytes = (
                now - before for now, before in
                zip((cpu_seconds(celery.worker.pid), cpu_seconds(server.process.pid), *_services_cpu_s(), _wal_bytes()), cpu_before))
            redis_memory_mb = redis_client().info("memory")["used_memory"] / 2**20
            sessions = [watch.session for watch in fleet]
            deadline = time.monotonic() + 300
            while Workout.objects.filter(pk__in=sessions, finalized_at__isnull=False).count() < len(fleet):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            finalized = Workout.objects.filter(pk__in=sessions, finalized_at__isnull=False).count()
    lost, duplicated = verify(fleet, reports)
    delays = latencies(fleet, reports, watcher.seen)
    summary = summarize(reports)
    checked = fleet[:10]  # the offline pass costs a model run per recording
    live_equals_offline = finalized == len(fleet) and all(
        list(ExerciseSet.objects.filter(workout_id=w.session).order_by("ordinal").values_list("exercise_id", "reps", "start_s", "end_s"))
        == offline_sets(Recording.objects.get(id=w.session)) for w in checked
    )
    clean_up()
    return {
        "watches": watches,
        "seconds": seconds,
        "worker_concurrency": concurrency,
        "samples_lost": lost,
        "samples_duplicated": duplicated,
        "sets_measured": len(delays["set_end"]),
        **{f"latency_{key}": value for key, value in _percentiles(delays["set_end"]).items()},
        "latency_from_last_rep": _percentiles(delays["last_rep"]),
        # the same as latency_*, for the sets a live step closes, and for those only the recording's end closes
        "latency_closed_live": {"sets": len(delays["closed_live"]), **_percentiles(delays["closed_live"])},
        "latency_closed_by_end": {"sets": len(delays["closed_by_end"]), **_percentiles(delays["closed_by_end"])},
        "set_shown_after_start": _percentiles(delays["set_start"]),
        "live_equals_offline": live_equals_offline,
        "recordings_finalized": finalized,
        "max_lag_s": round(watcher.max_lag_s, 2),
        "worker_rss_mb": round(watcher.worker_rss_mb, 1),
        # CPU milliseconds per second of a watch's stream, while streaming (ramp included)
        "worker_cpu_ms_per_watch_s": round(1000 * worker_cpu_s / (watches * seconds), 2),
        "web_cpu_ms_per_watch_s": round(1000 * web_cpu_s / (watches * seconds), 2),
        "postgres_cpu_ms_per_watch_s": round(1000 * postgres_cpu_s / (watches * seconds), 2),
        "redis_cpu_ms_per_watch_s": round(1000 * redis_cpu_s / (watches * seconds), 2),
        "postgres_wal_bytes_per_watch_s": round(wal_bytes / (watches * seconds)),
        "redis_memory_mb_at_end": round(redis_memory_mb, 1),
        "ack_p99_ms": summary["ack_p99_ms"],
        "step_ms_at_workout_length": step_ms,
        "errors": summary["errors"],
        "streamed_s": round(streamed_s, 1),
    }
