import asyncio
import itertools
import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from classifier.gymformat import read_gym_csv
from ingest.simulator import Watch, WatchFailed, run_watches, summarize


class Command(BaseCommand):
    help = (
        "Stream gym-format recordings over the real WebSocket as watches would: real time or faster, "
        "many at once, resuming after dropped connections. Prints a summary of sent and acknowledged frames."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", type=Path, help="gym CSV files; watches take them in turn")
        parser.add_argument("--token", required=True, help="the device token (see create_device)")
        parser.add_argument("--url", default="ws://127.0.0.1:8000/ws/ingest/", help="default: %(default)s")
        parser.add_argument("--watches", type=int, default=1, help="simultaneous watches (default: one per file)")
        parser.add_argument("--speed", type=float, default=1.0, help="1 = real time, 10 = ten times faster")
        parser.add_argument("--frame-seconds", type=float, default=1.0, help="seconds of signal per frame")
        parser.add_argument("--drop-every", type=int, help="cut the connection after every N frames (resume drill)")
        parser.add_argument("--json", dest="as_json", action="store_true", help="print the summary as JSON")

    def handle(self, *args, files, token, url, watches, speed, frame_seconds, drop_every, as_json, **options):
        try:
            recordings = [read_gym_csv(path) for path in files]
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        fleet = [
            Watch(url=url, token=token, samples=rec.samples, channels=rec.channels, rate_hz=rec.rate_hz,
                  frame_size=max(1, round(rec.rate_hz * frame_seconds)), speed=speed, drop_every=drop_every)
            for rec in itertools.islice(itertools.cycle(recordings), max(watches, len(files)))
        ]
        longest = max(len(w.samples) / w.rate_hz / speed for w in fleet)
        self.stderr.write(f"{len(fleet)} watch(es) streaming to {url}; about {longest:.0f} s …")
        try:
            summary = summarize(asyncio.run(run_watches(fleet, ramp_s=min(5.0, len(fleet) / 200))))
        except WatchFailed as exc:
            raise CommandError(str(exc)) from None
        summary["sessions"] = [str(w.session) for w in fleet]
        if as_json:
            self.stdout.write(json.dumps(summary, indent=2))
            return
        for key, value in summary.items():
            if key != "sessions":
                self.stdout.write(f"{key:>14}: {value}")
        self.stdout.write("      sessions: " + " ".join(summary["sessions"]))
