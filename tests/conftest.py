import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from datetime import UTC, datetime

import numpy as np
import psycopg
import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection

from config.asgi import application
from ingest.models import Device, Recording
from journal.models import Exercise, Workout

CHANNELS = ["acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z"]


def shared_data(path: str) -> Path:
    """A path inside ../shared/data (read in place, never copied), with a clear error if absent."""
    full = Path(settings.SHARED_DATA_DIR) / path
    if not full.exists():
        raise FileNotFoundError(f"{full} does not exist; set SHARED_DATA_DIR to the shared data folder")
    return full


def dataset_files(folder: str) -> list[Path]:
    return sorted(shared_data(folder).glob("*.csv.gz"))


def workout_with_sets(owner, day, sets: list[tuple[str, int]], notes: str = "") -> Workout:
    """A finished workout on `day` with a set per (exercise, reps), a minute apart."""
    started = datetime(day.year, day.month, day.day, 18, tzinfo=UTC)
    recording = Recording.objects.create(id=uuid.uuid4(), owner=owner, rate_hz=50, channels=["gyr_x", "gyr_y", "gyr_z"],
                                         started_at=started, status=Recording.Status.ENDED)
    workout = Workout.objects.create(recording=recording, owner=owner, date=day, started_at=started, duration_s=600,
                                     notes=notes, finalized_at=started)
    Exercise.ensure({exercise for exercise, _ in sets})
    for ordinal, (exercise, reps) in enumerate(sets):
        workout.new_set(ordinal=ordinal, exercise_id=exercise, start_s=60 * ordinal, end_s=60 * ordinal + 30, reps=reps,
                        confidence=0.9, closed=True, model_version="m@1").save()
    return workout


@pytest.fixture(autouse=True)
def _plain_static(settings):
    # The tests run with production settings, whose hashed-name manifest exists only after
    # collectstatic: pages rendered in the test process use the plain names (the web server
    # of the browser tests, a process of its own, serves the collected files).
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user("athlete", password="pw-athlete-1")


@pytest.fixture
def device_and_token(user):
    return Device.create_with_token(owner=user, name="Left wrist")


@pytest.fixture
def token(device_and_token):
    return device_and_token[1]


def start_message(session=None, *, rate_hz=50, channels=CHANNELS, **worn) -> dict:
    return {
        "type": "start",
        "session": str(session or uuid.uuid4()),
        "rate_hz": rate_hz,
        "channels": list(channels),
        "started_at": datetime.now(UTC).isoformat(),
        **worn,  # side, placement
    }


def random_samples(n: int, n_channels: int = len(CHANNELS), seed: int = 0) -> np.ndarray:
    # float32 values, so that what the archive returns can be compared exactly.
    return np.random.default_rng(seed).normal(0, 50, size=(n, n_channels)).astype(np.float32)


def frame_message(session, seq: int, samples: np.ndarray) -> dict:
    return {"type": "frame", "session": str(session), "seq": seq, "samples": samples.tolist()}


async def connect(token: str | None, *, via: str = "header") -> WebsocketCommunicator:
    headers, path = [], "/ws/ingest/"
    if token and via == "header":
        headers = [(b"authorization", f"Bearer {token}".encode())]
    elif token:
        path += f"?token={token}"
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


@pytest.fixture
def server_env(transactional_db) -> dict:
    """Environment for server processes of the app, pointed at the test database."""
    from urllib.parse import urlsplit, urlunsplit

    from django.db import connection

    url = urlsplit(os.environ["DATABASE_URL"])
    test_db_url = urlunsplit(url._replace(path="/" + connection.settings_dict["NAME"]))
    # The fault drills reconnect a device hundreds of times a minute: far above a watch's start limit.
    return {"DATABASE_URL": test_db_url, "WORKER_HEARTBEAT_SECONDS": "1", "LOG_FORMAT": "text",
            "INGEST_MAX_STARTS_PER_MINUTE": "100000", "INGEST_START_BURST": "1000"}


@pytest.fixture
def web_server(server_env):
    from config.processes import WebServer

    with WebServer(env=server_env) as server:
        yield server


@pytest.fixture
def celery(server_env):
    from config.processes import CeleryProcesses

    running = CeleryProcesses(env={**server_env, "PIPELINE_SWEEP_SECONDS": "2"})
    yield running
    running.stop()


@contextmanager
def database_refusing_connections():
    """New connections to the test database refused and the open ones dropped, as in an outage."""
    name = connection.settings_dict["NAME"]
    params = {key: value for key, value in connection.get_connection_params().items() if key != "dbname"}
    with psycopg.connect(**params, dbname="postgres", autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name])
        try:
            yield
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
