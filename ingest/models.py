import hashlib
import secrets
import uuid

import numpy as np
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Max
from django.utils import timezone

from classifier.mirror import in_model_frame
from ingest.protocol import check_started_at

# Frames are archived as little-endian float32, row-major (samples × channels).
SAMPLE_DTYPE = np.dtype("<f4")


def hash_token(token: str) -> str:
    # Tokens are 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """256 random bits, URL-safe, never starting with "-": a shell and argparse take it as it is
    (`--token -318F…` would read as another option)."""
    token = secrets.token_urlsafe(32)
    while token.startswith("-"):
        token = secrets.token_urlsafe(32)
    return token


def validate_started_at(value) -> None:
    try:
        check_started_at(value)
    except ValueError as error:
        raise ValidationError(f"The start {error}.") from None


class DeviceQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class Side(models.TextChoices):
    """Which arm a device is worn on: the pipeline turns a left-arm recording into the models'
    frame, the right arm's (classifier/mirror.py). Blank: not said, read as recorded."""

    LEFT = "left"
    RIGHT = "right"


class Placement(models.TextChoices):
    """Where on the arm: it tells which of the device's axes lies along the limb."""

    WRIST = "wrist"
    UPPER_ARM = "upper_arm", "Upper arm"
    HAND = "hand"


class Device(models.Model):
    """A watch allowed to stream. Its token is shown once at creation and stored hashed."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="devices")
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    token_prefix = models.CharField(max_length=8, editable=False, help_text="First characters, to tell tokens apart.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    side = models.CharField(max_length=5, choices=Side, blank=True, help_text="The arm it is worn on.")
    placement = models.CharField(max_length=10, choices=Placement, default=Placement.WRIST)

    objects = DeviceQuerySet.as_manager()

    class Meta:
        ordering = ["owner", "name"]

    def __str__(self):
        return f"{self.name} ({self.owner})"

    @classmethod
    def create_with_token(cls, owner, name: str, **worn) -> tuple["Device", str]:
        """Create a device (`worn`: its side, placement); the returned plain token exists nowhere
        else afterwards."""
        token = new_token()
        device = cls.objects.create(owner=owner, name=name, token_hash=hash_token(token), token_prefix=token[:8], **worn)
        return device, token

    def revoke(self) -> None:
        self.revoked_at = timezone.now()
        self.save(update_fields=["revoked_at"])


class DamagedArchive(ValueError):
    """A recording's archive cannot be read back (only a hand in the database makes one)."""


class Recording(models.Model):
    """One session of a watch (its id is the uuid the watch chose) or an imported file (a random
    id: an id derived from the file could be chosen by a watch before the file's owner imports it;
    `import_key` recognises the same file imported again instead)."""

    class Status(models.TextChoices):
        RECORDING = "recording"
        ENDED = "ended"

    class Source(models.TextChoices):
        WATCH = "watch"
        IMPORT = "import"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recordings")
    device = models.ForeignKey(Device, on_delete=models.SET_NULL, null=True, blank=True, related_name="recordings")
    rate_hz = models.FloatField()
    channels = ArrayField(models.CharField(max_length=16))
    started_at = models.DateTimeField(validators=[validate_started_at])
    ended_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status, default=Status.RECORDING)
    source = models.CharField(max_length=10, choices=Source, default=Source.WATCH)
    # As the device was worn for this recording (its settings then, or the start message's).
    side = models.CharField(max_length=5, choices=Side, blank=True)
    placement = models.CharField(max_length=10, choices=Placement, default=Placement.WRIST)
    gaps = models.JSONField(default=list, blank=True,
                            help_text="Spans the device's readings never arrived for, filled in by interpolation: "
                                      "[{\"at_s\": seconds into the recording, \"seconds\": how long}].")
    import_key = models.CharField(max_length=64, null=True, blank=True, editable=False,
                                  help_text="An imported file's digest (samples, channels, rate): the same file again is this recording.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["owner", "-started_at"])]
        constraints = [
            models.UniqueConstraint(fields=["owner", "import_key"], name="one_recording_per_imported_file"),
            # The last line of defence for every door: an instant Python cannot read back made
            # every query that met the row fail (the sweep of every athlete's recordings among them).
            models.CheckConstraint(condition=models.Q(started_at__gte="2000-01-01T00:00:00Z",
                                                      started_at__lt="2200-01-01T00:00:00Z"),
                                   name="started_at_in_range"),
        ]

    def __str__(self):
        return f"{self.id} ({self.started_at:%Y-%m-%d %H:%M})"

    # The archive is the truth: counts are derived from it, never stored beside it.
    @property
    def next_seq(self) -> int:
        last = self.frames.aggregate(last=Max("seq"))["last"]
        return 0 if last is None else last + 1

    def in_model_frame(self, samples: np.ndarray) -> np.ndarray:
        """Samples as the models read them: a left-arm recording as its mirror image."""
        return in_model_frame(samples, list(self.channels), self.side, self.placement)

    def read_samples(self) -> np.ndarray:
        """The whole recording from the archive, shape (samples, channels), float32. Raises
        DamagedArchive when a stored frame is not whole samples (nothing the ingest writes)."""
        row_bytes = SAMPLE_DTYPE.itemsize * len(self.channels)
        chunks = []
        for seq, data in self.frames.order_by("seq").values_list("seq", "samples").iterator():
            if len(data) % row_bytes:
                raise DamagedArchive(f"recording {self.id}: frame {seq} holds {len(data)} bytes, not whole samples")
            chunks.append(np.frombuffer(data, dtype=SAMPLE_DTYPE))
        if not chunks:
            return np.empty((0, len(self.channels)), dtype=SAMPLE_DTYPE)
        return np.concatenate(chunks).reshape(-1, len(self.channels))


class Frame(models.Model):
    """The durable archive of one accepted frame. (recording, seq) is its key, so a re-sent
    frame can never be stored twice."""

    pk = models.CompositePrimaryKey("recording", "seq")
    recording = models.ForeignKey(Recording, on_delete=models.CASCADE, related_name="frames")
    seq = models.PositiveIntegerField()
    n_samples = models.PositiveIntegerField()
    samples = models.BinaryField()
    received_at = models.DateTimeField()

    def __str__(self):
        return f"{self.recording_id}#{self.seq}"


class PushSession(models.Model):
    """Where a recording pushed by the Sensor Logger app stands (ingest/push.py): its messages are
    put on the recording's grid in messageId order, so this keeps the next message expected, the
    next frame and grid sample to write, and the last reading placed (to interpolate from)."""

    class Sensor(models.TextChoices):
        WATCH = "watch", "Apple Watch wrist motion"
        PHONE = "phone", "the phone's accelerometer, gravity and gyroscope"

    recording = models.OneToOneField(Recording, primary_key=True, on_delete=models.CASCADE, related_name="push")
    session_id = models.CharField(max_length=200, help_text="The app's sessionId.")
    sensor = models.CharField(max_length=5, choices=Sensor)
    ios = models.BooleanField(default=False, help_text="A phone's acceleration in Apple's sign.")
    epoch_ns = models.BigIntegerField(help_text="Epoch nanoseconds the session's times count from (its first reading received).")
    origin = models.FloatField(null=True, blank=True, help_text="The grid's first sample, in seconds since epoch_ns.")
    next_message_id = models.PositiveIntegerField(default=0)
    next_seq = models.PositiveIntegerField(default=0)
    next_sample = models.PositiveBigIntegerField(default=0)
    tail = ArrayField(models.FloatField(), null=True, blank=True,
                      help_text="The last reading on the grid: seconds since epoch_ns, then its values.")
    holding = models.BooleanField(default=False, help_text="Messages are held, waiting for an earlier one.")

    def __str__(self):
        return f"{self.session_id} → {self.recording_id}"


class HeldMessage(models.Model):
    """A pushed message, durable from its 200 until its readings are on the grid (then deleted):
    it waits here while a message before it is still on its way."""

    pk = models.CompositePrimaryKey("session", "message_id")
    session = models.ForeignKey(PushSession, on_delete=models.CASCADE, related_name="held")
    message_id = models.PositiveIntegerField()
    readings = models.BinaryField(help_text="float64, one row a reading: seconds since the session's epoch, then the channels' values.")
    received_at = models.DateTimeField()
