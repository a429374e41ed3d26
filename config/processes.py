"""The app's own server processes, started the way the Procfile starts them.

For benchmarks and tests that need a real web server (WebSockets over real sockets) when
they are not pointed at a running stack.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings

from config.embedded import free_tcp_port


class WebServer:
    """uvicorn serving config.asgi on 127.0.0.1; `with WebServer() as server: server.ws_url`."""

    def __init__(self, port: int | None = None, *, env: dict | None = None):
        self.port = port or free_tcp_port()
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/ingest/"

    def start(self) -> WebServer:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
             "--port", str(self.port), "--ws-max-size", "1048576", "--no-access-log", "--log-level", "warning"],
            cwd=settings.BASE_DIR, env=self.env,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the web server did not start; see its output above") from None
                time.sleep(0.1)

    def stop(self, *, kill: bool = False) -> None:
        if self.process is None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        self.process.wait(timeout=30)
        self.process = None

    def __enter__(self) -> WebServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


class CeleryProcesses:
    """A Celery worker (prefork, supervised, as the Procfile runs it; it also takes the
    `training` queue that the Procfile gives a worker of its own) and, on request, beat."""

    def __init__(self, *, env: dict | None = None, concurrency: int = 2):
        self.env = {**os.environ, **(env or {})}
        self.concurrency = concurrency
        self.worker: subprocess.Popen | None = None
        self.beat: subprocess.Popen | None = None

    def start_worker(self) -> CeleryProcesses:
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "config.supervise", sys.executable, "-m", "celery", "-A", "config", "worker",
             "--queues", "celery,training", "--concurrency", str(self.concurrency), "--loglevel", "WARNING",
             "--without-gossip", "--without-mingle"],
            env=self.env, cwd=settings.BASE_DIR, start_new_session=True,
        )
        return self

    def start_beat(self) -> CeleryProcesses:
        self.beat = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "WARNING", "--schedule", os.devnull + ".beat"],
            env=self.env, cwd=settings.BASE_DIR,
        )
        return self

    def kill_worker(self) -> None:
        """kill -9 the worker, its pool children and its supervisor, mid-task or not."""
        os.killpg(self.worker.pid, signal.SIGKILL)
        self.worker.wait(timeout=30)

    def stop(self) -> None:
        for process in (self.worker, self.beat):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=60)

    def __enter__(self) -> CeleryProcesses:
        return self.start_worker().start_beat()

    def __exit__(self, *exc_info) -> None:
        self.stop()
