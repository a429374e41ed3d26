from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from journal.labels import export_labels, labelled_recordings


class Command(BaseCommand):
    help = (
        "Write the labelled recordings as a folder in the uniform gym format (sessions.csv, sets.csv, "
        "sessions/*.csv.gz): a dataset for train_classifier --data, import_recording, or anyone's own tools."
    )

    def add_arguments(self, parser):
        parser.add_argument("folder", type=Path, help="the folder to write (created; files in it are replaced)")
        parser.add_argument("--user", help="only this user's recordings")

    def handle(self, *args, folder, user, **options):
        recordings = labelled_recordings().order_by("started_at")
        if user:
            recordings = recordings.filter(owner__username=user)
        if not recordings.exists():
            raise CommandError("no labelled recordings: mark some labelled on the labelling page first")
        files = export_labels(folder, recordings)
        self.stdout.write(f"{folder}: {len(files)} labelled recordings (sessions.csv, sets.csv, sessions/)")
