import sys
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from classifier.gymformat import GymRecording, write_gym_csv
from ingest.models import Recording


class Command(BaseCommand):
    help = "Export a recording from the archive to a gym-format CSV (gzip when the name ends in .gz)."

    def add_arguments(self, parser):
        parser.add_argument("recording", help="the recording's id (the watch's session uuid)")
        parser.add_argument("output", type=Path, help="file to write, e.g. session.csv.gz")

    def handle(self, *args, recording, output, **options):
        try:
            row = Recording.objects.get(id=recording)
        except (Recording.DoesNotExist, ValidationError):
            raise CommandError(f"no recording {recording}") from None
        samples = row.read_samples()
        write_gym_csv(output, GymRecording.unlabelled(samples, row.channels, row.rate_hz))
        print(f"{output}: {len(samples)} samples, {row.rate_hz:g} Hz, {', '.join(row.channels)}", file=sys.stderr)
