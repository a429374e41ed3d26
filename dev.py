#!/usr/bin/env python3
"""Set up and run the project on a machine with only Python 3.11 and pip.

    python3 dev.py serve      # the whole app (embedded PostgreSQL + Redis unless URLs are given)
    python3 dev.py test       # the test-suite against real PostgreSQL and Redis
    python3 dev.py manage …   # any manage.py command, e.g. `manage bench ingest --watches 100`

Creates .venv when missing and installs requirements.txt whenever it changed. Standard
library only: it runs before anything is installed.
"""

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
REQUIREMENTS = ROOT / "requirements.txt"
STAMP = VENV / ".requirements.sha256"


def ensure_virtualenv() -> None:
    if not PYTHON.exists():
        print(f"Creating the virtualenv in {VENV} …", flush=True)
        venv.create(VENV, with_pip=True)
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if not STAMP.exists() or STAMP.read_text() != wanted:
        print("Installing requirements.txt (the first time takes a few minutes) …", flush=True)
        subprocess.run([PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
        subprocess.run([PYTHON, "-m", "pip", "install", "--quiet", "-r", REQUIREMENTS], check=True)
        STAMP.write_text(wanted)


def main(argv: list[str]) -> int:
    commands = {
        "serve": [str(PYTHON), "manage.py", "serve", *argv[1:]],
        "test": [str(PYTHON), "-m", "pytest", *argv[1:]],
        "manage": [str(PYTHON), "manage.py", *argv[1:]],
    }
    if not argv or argv[0] not in commands:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    ensure_virtualenv()
    env = dict(os.environ)
    if argv[0] != "test":  # a developer's machine; the tests run with production settings
        env.setdefault("DEBUG", "1")
        env.setdefault("LOG_FORMAT", "text")
    os.chdir(ROOT)
    os.execve(PYTHON, commands[argv[0]], env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
