"""The real processes: uvicorn serving the app, Celery worker and beat, the watch simulator."""

import asyncio
import time
import urllib.error
import urllib.request

import numpy as np
import orjson
import pytest
from django.db import connection

from classifier.gymformat import read_gym_csv
from ingest.models import Recording
from ingest.simulator import Watch, run_watches, summarize
from journal.models import ExerciseSet, Workout
from journal.pipeline import offline_sets
from tests.conftest import database_refusing_connections
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


def test_healthz_reports_the_worker_once_its_heartbeat_arrives(web_server, celery):
    status, body = get_health(web_server)
    assert body["database"]["ok"] and body["redis"]["ok"]
    celery.start_worker()
    celery.start_beat()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        status, body = get_health(web_server)
        if body["worker"]["ok"]:
            break
        time.sleep(0.5)
    assert status == 200 and body["ok"], body
    assert body["worker"]["heartbeat_age_s"] < 3


def journal_sets(recording_id) -> list[tuple]:
    return list(ExerciseSet.objects.filter(workout_id=recording_id).order_by("ordinal")
                .values_list("exercise_id", "reps", "start_s", "end_s", "closed", "source"))


def wait_for_final_pass(recording_ids, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while Workout.objects.filter(pk__in=recording_ids, finalized_at__isnull=False).count() < len(recording_ids):
        assert time.monotonic() < deadline, "the worker did not finish the recordings in time"
        time.sleep(0.5)


def stream(web_server, token, recordings, *, speed: float) -> list[Watch]:
    fleet = [Watch(url=web_server.ws_url, token=token, samples=r.samples, channels=r.channels, rate_hz=r.rate_hz,
                   frame_size=10, speed=speed) for r in recordings]
    summary = summarize(asyncio.run(run_watches(fleet)))
    assert summary["ended"] == len(fleet)
    return fleet


def test_a_streamed_workout_becomes_journal_sets_equal_to_the_offline_result(web_server, token, celery):
    celery.start_worker()
    recordings = [read_gym_csv(path) for path in EXERMOTE[:2]]
    fleet = stream(web_server, token, recordings, speed=20)  # 5-minute workouts in 15 s, live steps all along
    wait_for_final_pass([watch.session for watch in fleet])
    for watch in fleet:
        stored = Recording.objects.get(id=watch.session)
        expected = [(exercise, reps, start, end, True, "machine") for exercise, reps, start, end in offline_sets(stored)]
        assert journal_sets(watch.session) == expected and expected


def test_a_worker_killed_mid_stream_loses_and_doubles_nothing(web_server, token, celery):
    celery.start_worker()
    recordings = [read_gym_csv(path) for path in EXERMOTE[2:4]]
    fleet = [Watch(url=web_server.ws_url, token=token, samples=r.samples, channels=r.channels, rate_hz=r.rate_hz,
                   frame_size=10, speed=10) for r in recordings]

    async def kill_midway():
        await asyncio.sleep(8)  # a third of the way through, with steps in flight
        celery.kill_worker()
        await asyncio.sleep(2)
        celery.start_worker()

    async def both():
        return (await asyncio.gather(run_watches(fleet), kill_midway()))[0]

    assert summarize(asyncio.run(both()))["ended"] == 2
    celery.start_beat()  # sweeps up any recording whose trigger died with the worker
    wait_for_final_pass([watch.session for watch in fleet])
    for watch in fleet:
        stored = Recording.objects.get(id=watch.session)
        assert stored.frames.count() == stored.next_seq
        expected = [(exercise, reps, start, end, True, "machine") for exercise, reps, start, end in offline_sets(stored)]
        assert journal_sets(watch.session) == expected and expected


def run_with_fault(web_server, token, celery, paths, fault) -> list[Watch]:
    """Stream `paths` at 10× real time with a worker running; `fault` runs a few seconds in."""
    celery.start_worker()
    recordings = [read_gym_csv(path) for path in paths]
    fleet = [Watch(url=web_server.ws_url, token=token, samples=r.samples, channels=r.channels, rate_hz=r.rate_hz,
                   frame_size=10, speed=10) for r in recordings]

    async def fault_midway():
        await asyncio.sleep(6)
        await asyncio.to_thread(fault)

    async def both():
        return (await asyncio.gather(run_watches(fleet), fault_midway()))[0]

    assert summarize(asyncio.run(both()))["ended"] == len(fleet)
    connection.close()  # a fault may have dropped this test's own connection; open a fresh one
    celery.start_beat()  # sweeps up any recording whose trigger was lost in the fault
    wait_for_final_pass([watch.session for watch in fleet])
    for watch, original in zip(fleet, recordings):
        stored = Recording.objects.get(id=watch.session)
        np.testing.assert_array_equal(stored.read_samples(), original.samples)  # nothing lost or doubled
        expected = [(exercise, reps, start, end, True, "machine") for exercise, reps, start, end in offline_sets(stored)]
        assert journal_sets(watch.session) == expected and expected
    return fleet


def test_a_redis_restart_mid_stream_loses_and_doubles_nothing(web_server, token, celery, embedded_services):
    def restart_redis():
        embedded_services.redis.stop()
        time.sleep(2)
        embedded_services.redis.start()

    run_with_fault(web_server, token, celery, EXERMOTE[4:6], restart_redis)


def test_the_database_briefly_unavailable_loses_and_doubles_nothing(web_server, token, celery):
    def database_outage():
        with database_refusing_connections():
            time.sleep(3)

    run_with_fault(web_server, token, celery, EXERMOTE[6:8], database_outage)


def test_a_web_server_restart_while_watches_stream_loses_and_doubles_nothing(web_server, token, celery):
    def restart_web_server():
        web_server.stop()
        web_server.start()

    fleet = run_with_fault(web_server, token, celery, EXERMOTE[8:10], restart_web_server)
    assert all(Recording.objects.get(id=watch.session).status == Recording.Status.ENDED for watch in fleet)
