"""What each process loads: the web server and the workers must not pay for TensorFlow."""

import json
import os
import subprocess
import sys

HEAVY = ("tensorflow", "keras", "matplotlib", "ai_edge_litert")


def loaded_after(imports: str) -> dict[str, bool]:
    probe = f"""
import json, sys
import django
django.setup()
{imports}
print(json.dumps({{name: name in sys.modules for name in {HEAVY!r}}}))
"""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "1",
           "DATABASE_URL": "postgres://nobody@localhost/none", "REDIS_URL": "redis://localhost:1/0"}
    result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_web_app_and_celery_app_do_not_import_tensorflow():
    assert loaded_after("import config.asgi, config.celery") == dict.fromkeys(HEAVY, False)


def test_serving_a_model_loads_litert_but_not_tensorflow():
    loaded = loaded_after("import classifier.runtime, classifier.set_finder")
    assert loaded == {"tensorflow": False, "keras": False, "matplotlib": False, "ai_edge_litert": True}
