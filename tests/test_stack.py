"""The real processes: uvicorn serving the app, Celery worker and beat, the watch simulator."""

import asyncio
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import orjson
import pytest
from django.conf import settings

from classifier.gymformat import read_gym_csv
from ingest.models import Recording
from ingest.simulator import Watch, run_watches, summarize
from tests.test_gym_csv import EXERMOTE

pytestmark = pytest.mark.django_db(transaction=True)


def get_health(server) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"{server.http_url}/healthz", timeout=10) as response:
            return response.status, orjson.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, orjson.loads(error.read())


def test_simulated_watches_survive_dropped_connections_and_lose_nothing(web_server, token):
    recordings = [read_gym_csv(path) for path in EXERMOTE[:3]]
    fleet = [
        # 200× real time, 2-second frames, the connection cut after every 7 frames.
        Watch(url=web_server.ws_url, token=token, samples=r.samples, channels=r.channels, rate_hz=r.rate_hz,
              frame_size=20, speed=200, drop_every=7)
        for r in recordings
    ]
    summary = summarize(asyncio.run(run_watches(fleet)))
    assert summary["ended"] == 3 and summary["reconnects"] > 10
    # Frames whose ack was lost with the connection were stored: the resume skips them.
    assert summary["frames_sent"] >= summary["frames_total"]
    for watch, original in zip(fleet, recordings):
        stored = Recording.objects.get(id=watch.session)
        assert stored.status == Recording.Status.ENDED
        np.testing.assert_array_equal(stored.read_samples(), original.samples)


def test_healthz_reports_the_worker_once_its_heartbeat_arrives(web_server, server_env):
    status, body = get_health(web_server)
    assert body["database"]["ok"] and body["redis"]["ok"]

    env = {**os.environ, **server_env}
    celery = [sys.executable, "-m", "celery", "-A", "config"]
    processes = [
        subprocess.Popen([*celery, "worker", "--pool", "solo", "--loglevel", "WARNING"], env=env, cwd=settings.BASE_DIR),
        subprocess.Popen([*celery, "beat", "--loglevel", "WARNING", "--schedule", os.devnull + ".beat"],
                         env=env, cwd=settings.BASE_DIR),
    ]
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            status, body = get_health(web_server)
            if body["worker"]["ok"]:
                break
            time.sleep(0.5)
        assert status == 200 and body["ok"], body
        assert body["worker"]["heartbeat_age_s"] < 3
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
