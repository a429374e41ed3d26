import json
import os
import platform
from pathlib import Path

from django.core.management.base import BaseCommand

from ingest import benchmark as ingest_benchmark


def machine() -> dict:
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "processor": platform.processor() or platform.machine()}


class Command(BaseCommand):
    help = (
        "Benchmarks that users can run; each prints a table and can write JSON. They start what they "
        "need (embedded services, web server) unless pointed at a running stack."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="benchmark", required=True)
        ingest = sub.add_parser("ingest", help="N simulated watches at 50 Hz, one 50-sample frame per second each")
        ingest.add_argument("--watches", type=int, default=100, help="default: %(default)s")
        ingest.add_argument("--seconds", type=float, default=30.0, help="seconds streamed per watch (default: %(default)s)")
        ingest.add_argument("--url", help="ws:// URL of a running server (default: start one)")
        ingest.add_argument("--json", dest="json_path", type=Path, help="write the results to this file")

    def handle(self, *args, benchmark, json_path: Path | None = None, **options):
        runner = {"ingest": self.bench_ingest}[benchmark]
        results = {"benchmark": benchmark, "machine": machine(), **runner(**options)}
        width = max(map(len, results))
        for key, value in results.items():
            self.stdout.write(f"{key:<{width}}  {value}")
        if json_path:
            json_path.parent.mkdir(parents=True, exist_ok=True)
            json_path.write_text(json.dumps(results, indent=2))
            self.stderr.write(f"wrote {json_path}")

    def bench_ingest(self, *, watches, seconds, url, **_):
        self.stderr.write(f"bench ingest: {watches} watches × {seconds:g} s …")
        return ingest_benchmark.run(watches=watches, seconds=seconds, url=url)
