from datetime import datetime, timedelta
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from ingest.models import Device, Placement, Side
from ingest.recordings import import_gym_recording, read_recording_file
from journal.labels import import_labels


class Command(BaseCommand):
    help = (
        "Import recordings from gym-format CSV files (t, acc_*, gyr_*, ...; see ../shared/data/README.md) "
        "or Sensor Logger zip exports (Apple Watch wrist motion, or the phone's motion) as if a watch had streamed them, "
        "or whole gym-format folders (sessions.csv, sets.csv, sessions/) with their sets as labels, e.g. one written by "
        "export_labels. Importing the same file again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", type=Path, help="gym CSV files (.csv or .csv.gz), Sensor Logger exports (.zip), or gym-format folders")
        parser.add_argument("--user", required=True, help="username of the owner")
        parser.add_argument("--device", help="name of one of the user's devices to attribute the recordings to")
        parser.add_argument("--side", choices=[side.value for side in Side],
                            help="the arm the device was on (a left-arm recording is read as its mirror image); "
                                 "default: the --device's setting, else not said")
        parser.add_argument("--placement", choices=[placement.value for placement in Placement],
                            help="where on the arm; default: the --device's setting, else the wrist")
        parser.add_argument("--started-at", type=datetime.fromisoformat, default=None,
                            help="ISO 8601 start time of the (first) recording; default: what a Sensor Logger export says, else now")

    def handle(self, *args, files, user, device, side, placement, started_at, **options):
        self.progress = options["verbosity"] > 0
        User = get_user_model()
        try:
            owner = User.objects.get(username=user)
        except User.DoesNotExist:
            raise CommandError(f"no user named {user!r}") from None
        device_row = None
        if device:
            device_row = Device.objects.filter(owner=owner, name=device).first()
            if device_row is None:
                raise CommandError(f"{user} has no device named {device!r}")
        if started_at is not None and timezone.is_naive(started_at):
            started_at = timezone.make_aware(started_at)
        following = None  # a file without a time of its own starts where the one before it ended
        for path in tqdm(files, unit="file", disable=len(files) < 2):
            if path.is_dir():
                self.import_folder(path, owner)
                continue
            try:
                signal, file_started_at = read_recording_file(path)
                start = started_at or file_started_at or following or timezone.now()
                recording, created = import_gym_recording(signal, owner=owner, started_at=start, device=device_row,
                                                          side=side, placement=placement)
            except (OSError, ValueError) as exc:
                raise CommandError(f"{path}: {exc}" if str(path) not in str(exc) else str(exc)) from None
            verb = "imported" if created else "already imported, completed"
            self.stdout.write(f"{path.name}: {verb} as {recording.id} "
                              f"({len(signal.samples)} samples, {signal.rate_hz:g} Hz, {', '.join(signal.channels)})")
            following = start + timedelta(seconds=signal.duration_s)
            started_at = started_at and following  # --started-at: the files one after another from there

    def import_folder(self, folder: Path, owner) -> None:
        if not (folder / "sessions.csv").is_file():
            raise CommandError(f"{folder} is not a gym-format folder: it has no sessions.csv")
        try:
            recordings = import_labels(folder, owner=owner, progress=self.progress)
        except (OSError, ValueError, KeyError) as exc:
            raise CommandError(f"{folder}: {exc}") from None
        self.stdout.write(f"{folder}: {len(recordings)} labelled recordings imported")
