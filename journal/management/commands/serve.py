import os
import shlex
import sys
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from honcho.environ import parse_procfile
from honcho.manager import Manager
from honcho.printer import Printer

from config.lan_https import lan_address, self_signed_certificate
from ingest.models import Device

DEMO_USER = "demo"
DEMO_PASSWORD = "demo"


class Command(BaseCommand):
    help = (
        "Run the whole app: migrate, create the demo user and watch, then the ASGI server, a Celery "
        "worker, a training worker and beat (the Procfile's processes) with their logs, until Ctrl-C stops them all."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--no-demo", action="store_true", help="do not create the demo user and watch")
        parser.add_argument("--https", action="store_true", help=(
            "serve over HTTPS on the local network (all interfaces, a self-signed certificate for this machine's "
            "LAN address), for a phone recording on /record/: phones give motion only to secure pages; no demo user"))

    def handle(self, *args, port, host, no_demo, https, **options):
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("Database migrated.")
        if not settings.DEBUG:  # with DEBUG on, WhiteNoise serves straight from the apps
            call_command("collectstatic", interactive=False, verbosity=0)
        procfile = parse_procfile((Path(settings.BASE_DIR) / "Procfile").read_text())
        # The Procfile names uvicorn and celery: find them beside this Python (the virtualenv).
        path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
        env = {**os.environ, "PATH": path, "HOST": host, "PORT": str(port), "PYTHONUNBUFFERED": "1"}
        public_host, scheme = host, "http"
        if https:
            self.refuse_known_password()  # the network can reach it now: no admin whose password is in the README
            public_host, scheme = lan_address(), "https"
            key, certificate = self_signed_certificate(Path(settings.BASE_DIR) / ".data" / "https", public_host)
            procfile.processes["web"] += f" --ssl-keyfile {shlex.quote(str(key))} --ssl-certfile {shlex.quote(str(certificate))}"
            # The phone asks for the LAN address, which Django refuses unless it is an allowed host.
            env.update(HOST="0.0.0.0", ALLOWED_HOSTS=",".join([*settings.ALLOWED_HOSTS, public_host]))
        ws_scheme = scheme.replace("http", "ws")
        if not (no_demo or https):
            self.ensure_demo(f"{ws_scheme}://{public_host}:{port}/ws/ingest/")
        manager = Manager(Printer(sys.stdout))
        for name, command in procfile.processes.items():
            manager.add_process(name, command, env=env, cwd=str(settings.BASE_DIR))
        self.stdout.write(self.style.SUCCESS(
            f"Journal on {scheme}://{public_host}:{port}/ (admin: /admin/, health: /healthz, watches: "
            f"{ws_scheme}://{public_host}:{port}/ws/ingest/, a phone: {scheme}://{public_host}:{port}/record/)"
            " — Ctrl-C stops everything."
        ))
        manager.loop()
        sys.exit(manager.returncode)

    def refuse_known_password(self):
        demo = get_user_model().objects.filter(username=DEMO_USER).first()
        if demo is not None and demo.check_password(DEMO_PASSWORD):
            raise CommandError(f"--https serves the local network, and the staff user '{DEMO_USER}' still has the "
                               f"password '{DEMO_PASSWORD}': change it first (python3 dev.py manage changepassword "
                               f"{DEMO_USER}) or delete the user. No demo user is made with --https.")

    def ensure_demo(self, ingest_url: str):
        user, created = get_user_model().objects.get_or_create(
            username=DEMO_USER, defaults={"is_staff": True, "is_superuser": True}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
            _, token = Device.create_with_token(owner=user, name="Demo watch")
            self.stdout.write(self.style.WARNING(
                f"Demo user '{DEMO_USER}' / password '{DEMO_PASSWORD}' (staff) and device 'Demo watch'.\n"
                f"Demo watch token, shown this once (stored hashed):\n    {token}\n"
                "Stream a real recording with it (in a second terminal):\n"
                f"    python3 dev.py manage simulate_watches --token {token} --url {ingest_url} --speed 10 "
                "../shared/data/gym/exermote_upperarm/sessions/<file>.csv.gz"
            ))
        else:
            self.stdout.write(f"Demo user '{DEMO_USER}' exists (new watch token: manage.py create_device --user demo --name …).")
