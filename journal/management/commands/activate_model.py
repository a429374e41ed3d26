from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from classifier.card import ModelCard
from journal.models import ModelVersion


class Command(BaseCommand):
    help = (
        "Register a classifier artefact (a folder with card.json and model.tflite, e.g. from train_classifier "
        "--out) and make it the active model for recordings with its channels. Running workers pick it up "
        "for new recordings at their next step; workouts already begun keep their model."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, help="the artefact folder")
        parser.add_argument("--no-activate", action="store_true", help="register it only (activate later in the admin)")

    def handle(self, *args, path: Path, no_activate: bool, **options):
        try:
            card = ModelCard.load(path)
        except FileNotFoundError as error:
            raise CommandError(str(error)) from error
        if not (path / "model.tflite").is_file():
            raise CommandError(f"{path} has no model.tflite to serve")
        version, created = ModelVersion.objects.update_or_create(
            name=card.versioned_name,
            defaults={"path": str(path.resolve()), "channels": card.channels, "metrics": card.metrics},
        )
        if not no_activate:
            version.activate()
        state = "active" if version.active else "registered, not active"
        self.stdout.write(f"{version.name} ({', '.join(card.channels)}) {'added' if created else 'updated'}: {state}")
