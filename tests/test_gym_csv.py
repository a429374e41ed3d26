import numpy as np
import pytest
from django.core.management import call_command

from classifier.gymformat import read_gym_csv
from ingest.models import Recording
from tests.conftest import dataset_files

EXERMOTE = dataset_files("gym/exermote_upperarm/sessions")
MUVR = dataset_files("gym/muvr/sessions")


def test_reading_puts_the_signal_on_its_nominal_rate():
    recording = read_gym_csv(EXERMOTE[0])
    assert recording.rate_hz == 10.0
    assert recording.channels == ["acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z"]
    assert 250 < recording.duration_s < 330  # five-minute workouts
    assert np.isfinite(recording.samples).all()


def test_accelerometer_only_files_keep_only_their_channels():
    assert read_gym_csv(MUVR[0]).channels == ["acc_x", "acc_y", "acc_z"]


def test_a_file_that_is_not_gym_format_is_refused_clearly(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("time,x\n0,1\n")
    with pytest.raises(ValueError, match="no 't' column"):
        read_gym_csv(bad)


@pytest.mark.django_db(transaction=True)
def test_import_export_import_is_lossless_and_idempotent(user, tmp_path, capsys):
    call_command("import_recording", str(EXERMOTE[0]), user=user.username, side="right", placement="upper_arm")
    recording = Recording.objects.get()
    assert recording.source == Recording.Source.IMPORT and recording.status == Recording.Status.ENDED
    assert (recording.side, recording.placement) == ("right", "upper_arm")  # Exermote's armband
    original = read_gym_csv(EXERMOTE[0])
    np.testing.assert_array_equal(recording.read_samples(), original.samples)

    exported = tmp_path / "export.csv.gz"
    call_command("export_recording", str(recording.id), str(exported))
    again = read_gym_csv(exported)
    assert again.rate_hz == original.rate_hz and again.channels == original.channels
    np.testing.assert_array_equal(again.samples, original.samples)

    # The same signal imported again is the same recording: nothing doubles.
    call_command("import_recording", str(exported), user=user.username)
    assert Recording.objects.count() == 1
    assert recording.frames.count() == -(-len(original.samples) // 50)
    assert "already imported" in capsys.readouterr().out
