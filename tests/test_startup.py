"""What each process loads: the web server and the workers must not pay for TensorFlow."""

import json
import os
import subprocess
import sys

PROBE = """
import json, os, sys
import django
django.setup()
import config.asgi, config.celery
print(json.dumps({name: name in sys.modules for name in ("tensorflow", "keras", "matplotlib", "ai_edge_litert")}))
"""


def test_the_web_app_and_celery_app_do_not_import_tensorflow():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "1",
           "DATABASE_URL": "postgres://nobody@localhost/none", "REDIS_URL": "redis://localhost:1/0"}
    result = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == {"tensorflow": False, "keras": False, "matplotlib": False, "ai_edge_litert": False}
