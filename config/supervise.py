"""Run a command and start it again whenever it dies: `python -m config.supervise celery … worker`.

The Celery worker can die on a broker outage (kombu's Redis transport raises an AttributeError
while restoring unacknowledged messages on a lost connection, and the worker treats it as
unrecoverable). Its tasks are idempotent and redelivered, so starting it again is all it takes;
docker-compose does this with `restart:`, this does it for the Procfile (honcho stops every
process when one exits). A stop signal is passed on and ends the supervision.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

BACKOFF_S = (1, 2, 5, 10)


def main(command: list[str]) -> int:
    stopping = False
    child: subprocess.Popen | None = None

    def stop(signum, frame):
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
    crashes = 0
    while True:
        started = time.monotonic()
        child = subprocess.Popen(command)
        code = child.wait()
        if stopping or code == 0:
            return code
        crashes = 0 if time.monotonic() - started > 60 else crashes + 1
        pause = BACKOFF_S[min(crashes, len(BACKOFF_S) - 1)]
        print(f"supervise: {command[0]} exited with {code}; starting it again in {pause} s", file=sys.stderr, flush=True)
        time.sleep(pause)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python -m config.supervise COMMAND [ARG…]")
    sys.exit(main(sys.argv[1:]))
