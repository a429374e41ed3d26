"""Sensor Logger's zip export (Apple Watch wrist motion, or a phone's motion) imports to the same
sets as the same recording in the gym format, whatever the export's units and platform."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime, timezone as tz

import numpy as np
import pandas as pd
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from scipy.ndimage import uniform_filter1d

from classifier.gymformat import read_gym_csv
from classifier.sensorlogger import STANDARD_GRAVITY, read_sensor_logger_zip
from ingest.models import Recording
from ingest.recordings import import_gym_recording
from journal import pipeline
from journal.models import ExerciseSet
from tests.conftest import shared_data

LIFT = shared_data("gym/applewatch_gym_sensorlogger/sessions/2024-11-27T15-30-47_preacher_curl_S1.csv.gz")
STARTED_AT = datetime(2024, 11, 27, 15, 30, 47, tzinfo=tz.utc)


def lifter_signal():
    """The real lift in the journal's units, and Sensor Logger's readings of it: Apple's sign,
    gravity apart from the user's acceleration, rad/s, epoch nanoseconds with ±1 ms of jitter."""
    signal = read_gym_csv(LIFT)
    acc, gyr = signal.samples[:, :3].astype(np.float64), signal.samples[:, 3:].astype(np.float64)
    apple = -acc  # inertial force: face up reads gravity z = -1 g
    gravity = uniform_filter1d(apple, size=int(signal.rate_hz), axis=0)  # any split sums back to the same
    t_ns = (STARTED_AT.timestamp() + np.arange(len(acc)) / signal.rate_hz) * 1e9
    t_ns += np.random.default_rng(0).uniform(-1e6, 1e6, len(t_ns))
    return signal, t_ns.astype(np.int64), apple - gravity, gravity, np.radians(gyr)


def export_zip(files: dict[str, pd.DataFrame], folder: str = "2024-11-27_15-30-47/") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, table in files.items():
            archive.writestr(folder + name, table.to_csv(index=False))
    return buffer.getvalue()


def xyz(t_ns, values, names=("x", "y", "z")) -> pd.DataFrame:
    return pd.DataFrame({"time": t_ns, "seconds_elapsed": (t_ns - t_ns[0]) / 1e9, **dict(zip(names, values.T))})


def watch_export(*, si: bool = False) -> bytes:
    _, t_ns, user, gravity, rotation = lifter_signal()
    unit = STANDARD_GRAVITY if si else 1.0
    wrist = xyz(t_ns, np.hstack([rotation, gravity * unit, user * unit]),
                [f"{quantity}{axis}" for quantity in ("rotationRate", "gravity", "acceleration") for axis in "XYZ"])
    return export_zip({"WristMotion.csv": wrist, "Metadata.csv": pd.DataFrame({"platform": ["ios"], "standardisation": [si]})})


def phone_export(platform: str) -> bytes:
    _, t_ns, user, gravity, rotation = lifter_signal()
    sign = 1.0 if platform == "ios" else -1.0  # Android's acceleration is the specific force
    return export_zip({"Accelerometer.csv": xyz(t_ns, sign * user * STANDARD_GRAVITY),
                       "Gravity.csv": xyz(t_ns[::2], sign * gravity[::2] * STANDARD_GRAVITY),  # its own clock
                       "Gyroscope.csv": xyz(t_ns, rotation),
                       "Metadata.csv": pd.DataFrame({"platform": [platform]})})


@pytest.mark.parametrize("export", ["watch, in g", "watch, standardised to m/s²", "iPhone", "Android phone"])
def test_every_kind_of_export_reads_as_the_same_signal_in_the_journals_units(export):
    content = {"watch, in g": lambda: watch_export(), "watch, standardised to m/s²": lambda: watch_export(si=True),
               "iPhone": lambda: phone_export("ios"), "Android phone": lambda: phone_export("android")}[export]()
    signal = lifter_signal()[0]
    read = read_sensor_logger_zip(io.BytesIO(content))
    assert read.source == ("watch" if export.startswith("watch") else "phone")
    assert read.recording.channels == signal.channels and read.recording.rate_hz == pytest.approx(signal.rate_hz, rel=1e-3)
    assert abs(read.started_at - STARTED_AT).total_seconds() < 0.01
    n = min(len(read.recording.samples), len(signal.samples))
    difference = np.abs(read.recording.samples[:n] - signal.samples[:n])
    # ±1 ms of jitter on a 100 Hz signal: a tenth of a sample
    assert np.median(difference[:, :3]) < 0.01 and np.median(difference[:, 3:]) < 1.0


@pytest.mark.django_db(transaction=True)  # the archive writes frames on its own connection
def test_a_watch_export_imported_on_the_import_page_gives_the_sets_of_the_same_recording(client, user):
    signal = lifter_signal()[0]
    direct, _ = import_gym_recording(signal, owner=user, started_at=STARTED_AT)
    expected = pipeline.final_pass(direct.pk)

    client.force_login(user)
    answer = client.post("/import/", {"file": SimpleUploadedFile("2024-11-27_15-30-47.zip", watch_export())})
    assert answer.status_code == 302
    imported = Recording.objects.exclude(pk=direct.pk).get()
    assert abs(imported.started_at - STARTED_AT).total_seconds() < 0.01  # the export's own time
    workout = pipeline.final_pass(imported.pk)

    def sets(w):
        return [(s.exercise_id, s.reps, s.start_s, s.end_s) for s in ExerciseSet.objects.filter(workout=w).order_by("ordinal")]

    got, want = sets(workout), sets(expected)
    assert want and len(got) == len(want)
    for (exercise, reps, start, end), (exercise_want, reps_want, start_want, end_want) in zip(got, want):
        assert exercise == exercise_want and abs(reps - reps_want) <= 1
        assert abs(start - start_want) < 1.0 and abs(end - end_want) < 1.0


BAD_EXPORTS = {
    "not a zip": (b"PK\x03\x04 but nothing after", "not a readable zip"),
    "no motion sensor": (export_zip({"Location.csv": pd.DataFrame({"time": [1, 2], "latitude": [0, 0]})}), "no motion sensor"),
    "a column missing": (export_zip({"WristMotion.csv": pd.DataFrame({"time": [1, 2], "rotationRateX": [0, 0]})}), "lacks the column"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", sorted(BAD_EXPORTS))
def test_an_export_the_journal_cannot_read_gets_a_form_error_and_stores_nothing(client, user, case):
    content, says = BAD_EXPORTS[case]
    client.force_login(user)
    answer = client.post("/import/", {"file": SimpleUploadedFile("export.zip", content)})
    assert answer.status_code == 200
    errors = answer.context["form"].errors["file"]
    assert any(says in error and "export.zip" in error for error in errors), errors
    assert Recording.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_the_import_command_takes_an_export_with_its_own_start_time(user, tmp_path, capsys):
    from django.core.management import call_command

    path = tmp_path / "2024-11-27_15-30-47.zip"
    path.write_bytes(phone_export("android"))
    call_command("import_recording", str(path), "--user", user.username)
    recording = Recording.objects.get()
    assert abs(recording.started_at - STARTED_AT).total_seconds() < 0.01
    assert recording.channels == ["acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z"] and recording.rate_hz == pytest.approx(100, rel=1e-3)
    assert "imported as" in capsys.readouterr().out


@pytest.mark.django_db
def test_an_export_that_would_unpack_past_the_limit_is_refused_before_it_is_read(client, user, monkeypatch):
    from classifier import sensorlogger

    monkeypatch.setattr(sensorlogger, "MAX_UNZIPPED_BYTES", 1 << 20)  # the export unpacks to ~2 MB
    client.force_login(user)
    answer = client.post("/import/", {"file": SimpleUploadedFile("export.zip", watch_export())})
    assert any("would unpack to more than 1 MB" in error for error in answer.context["form"].errors["file"])
    assert Recording.objects.count() == 0
