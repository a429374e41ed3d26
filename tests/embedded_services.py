"""pytest plugin: real PostgreSQL and Redis for the test run.

Loaded with `-p tests.embedded_services` (pytest.ini) so that it runs before pytest-django
reads the settings. Servers given by DATABASE_URL / REDIS_URL are used as they are.
"""

import os
import tempfile
from pathlib import Path

import pytest

from config.embedded import EmbeddedServices

_services: EmbeddedServices | None = None


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    global _services
    # Production settings (DEBUG off), less the HTTPS redirect the test client cannot follow.
    os.environ.setdefault("SECRET_KEY", "tests-only-secret-key")
    os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
    # Connections kept open in sync_to_async threads would block dropping the test database.
    os.environ.setdefault("DATABASE_CONN_MAX_AGE", "0")
    _services = EmbeddedServices(Path(tempfile.mkdtemp(prefix="journal-test-")), ephemeral=True)
    _services.__enter__()


def pytest_unconfigure(config):
    if _services is not None:
        _services.__exit__(None, None, None)


@pytest.fixture(scope="session")
def embedded_services() -> EmbeddedServices:
    return _services
