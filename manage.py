#!/usr/bin/env python
import os
import sys
from pathlib import Path

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    from config.embedded import embedded_services_unless_configured

    # Without DATABASE_URL / REDIS_URL, real PostgreSQL and Redis run embedded from .data/.
    with embedded_services_unless_configured(Path(__file__).resolve().parent / ".data"):
        execute_from_command_line(sys.argv)
