"""Signals, windows, datasets and splits, on the real data read in place."""

import numpy as np
import pytest
from django.conf import settings

from classifier.channels import ACC, GYRO
from classifier.datasets import load_uci_har, load_uea
from classifier.gymformat import GymRecording, gym_windows, load_gym_folder, read_gym_csv, write_gym_csv
from classifier.mirror import windows_in_model_frame, limb_axis, mirror_signs, with_mirror_images
from classifier.preprocessing import resample, resampling_grid, select_channels, to_project_units
from classifier.splits import folds, validation_mask
from classifier.windows import cut_windows, window_starts
from tests.conftest import shared_data

BARBELL = shared_data("gym/barbell_metamotion")
EXERMOTE = shared_data("gym/exermote_upperarm")


@pytest.fixture(scope="module")
def barbell_sessions():
    return load_gym_folder(BARBELL, progress=False)


def test_resampling_keeps_a_slow_movement_and_its_gravity_offset():
    t = np.arange(0, 10, 1 / 50)
    signal = np.column_stack([np.sin(2 * np.pi * 0.5 * t), 1 + 0 * t]).astype(np.float32)  # a 0.5 Hz swing; 1 g
    half = resample(signal, 50, 25)
    assert half.shape == (250, 2) and half.dtype == np.float32
    np.testing.assert_allclose(half[10:-10, 0], np.sin(2 * np.pi * 0.5 * t[::2][10:-10]), atol=0.02)
    np.testing.assert_allclose(half[:, 1], 1, atol=0.01)  # no ringing at the ends
    assert len(resample(signal, 10, 25)) == 1250  # up-sampling by 5/2
    # A single sample (a recording's first frame may hold one) is held, not turned into NaN.
    np.testing.assert_allclose(resample(signal[:1], 50, 25), signal[:1])


@pytest.mark.parametrize("from_hz", [10, 20, 50, 100])
def test_resampling_from_a_cut_on_its_grid_gives_the_same_samples_past_its_reach(from_hz):
    """What lets a live step resample only its newest seconds: the samples it classifies are the
    ones resampling the whole recording gives, bit for bit."""
    walk = np.cumsum(np.random.default_rng(0).normal(size=(60 * from_hz, 3)), axis=0).astype(np.float32)
    whole = resample(walk, from_hz, 25)
    grid, reach = resampling_grid(from_hz, 25)
    cut = 7 * from_hz // grid * grid
    part = resample(walk[cut:], from_hz, 25)
    first, past = int(np.ceil((cut + reach) * 25 / from_hz)), int(np.ceil(reach * 25 / from_hz))
    np.testing.assert_array_equal(part[first - cut * 25 // from_hz:-past], whole[first:-past])


def test_units_become_g_and_degrees_per_second():
    samples = np.array([[9.80665, np.pi]], dtype=np.float32)
    converted = to_project_units(samples, ["acc_x", "gyr_x"], {"acc": "m/s2", "gyr": "rad/s"})
    np.testing.assert_allclose(converted, [[1.0, 180.0]], rtol=1e-6)
    with pytest.raises(ValueError, match="unknown unit 'furlong'"):
        to_project_units(samples, ["acc_x", "gyr_x"], {"acc": "furlong"})


def test_channel_subsets_and_a_clear_error_for_missing_ones():
    samples = np.arange(12, dtype=np.float32).reshape(2, 6)
    np.testing.assert_array_equal(select_channels(samples, ACC + GYRO, GYRO), samples[:, 3:])
    with pytest.raises(ValueError, match="the recording has no acc_x, acc_y, acc_z"):
        select_channels(samples[:, 3:], GYRO, ACC)


def test_windows_are_cut_by_sample_index():
    samples = np.arange(20, dtype=np.float32).reshape(10, 2)
    assert window_starts(10, 4, 3).tolist() == [0, 3, 6]
    assert window_starts(3, 4, 1).tolist() == []
    windows = cut_windows(samples, 4, 3)
    assert windows.shape == (3, 4, 2)
    np.testing.assert_array_equal(windows[1], samples[3:7])


def test_gym_windows_lie_in_one_set_and_carry_their_origin(barbell_sessions):
    windows = gym_windows(barbell_sessions, rate_hz=25, channels=GYRO, length=100, hop=25)
    assert windows.labels == ["barbell_row", "bench_press", "deadlift", "overhead_press", "rest", "squat"]
    assert windows.X.shape[1:] == (100, 3)
    assert set(windows.subjects) == {f"barbell_metamotion/{s}" for s in "ABCD"}
    rest = windows.y == windows.labels.index("rest")
    assert (windows.sets[rest] == "").all() and (windows.sets[~rest] != "").all()
    # A window's samples are exactly the session's samples at its start index.
    first = next(s for s in barbell_sessions if f"{s.dataset}/{s.name}" == windows.sessions[5])
    np.testing.assert_array_equal(windows.X[5], first.recording.samples[windows.starts[5]:windows.starts[5] + 100, 3:])


def test_windows_never_straddle_a_set_boundary():
    sessions = load_gym_folder(EXERMOTE, progress=False)[:2]
    windows = gym_windows(sessions, rate_hz=25, channels=ACC + GYRO, length=100, hop=12)
    for session in sessions:
        rec = session.recording
        mine = windows.sessions == f"{session.dataset}/{session.name}"
        for start, label in zip(windows.starts[mine], np.array(windows.labels)[windows.y[mine]]):
            # Each 25 Hz sample takes the label of the nearest 10 Hz source sample.
            source = slice(round(start * rec.rate_hz / 25), round((start + 99) * rec.rate_hz / 25) + 1)
            assert set(rec.labels[source]) == {label}


def test_classes_can_be_left_out(barbell_sessions):
    windows = gym_windows(barbell_sessions, rate_hz=25, channels=GYRO, length=100, hop=25)
    lifts = windows.without_labels(["rest"])
    assert "rest" not in lifts.labels and len(lifts) == len(windows) - (windows.y == windows.labels.index("rest")).sum()
    assert [lifts.labels[i] for i in lifts.y] == [windows.labels[i] for i in windows.y if windows.labels[i] != "rest"]


def test_labels_and_sets_survive_a_write_and_read(tmp_path):
    original = read_gym_csv(next((EXERMOTE / "sessions").glob("*.csv.gz")))
    write_gym_csv(tmp_path / "copy.csv", original)
    again = read_gym_csv(tmp_path / "copy.csv")
    np.testing.assert_array_equal(again.labels, original.labels)
    np.testing.assert_array_equal(again.set_ids, original.set_ids)
    unlabelled = GymRecording.unlabelled(original.samples, original.channels, original.rate_hz)
    assert (unlabelled.labels == "").all() and (unlabelled.set_ids == -1).all()


def test_leave_one_subject_out_never_shares_a_person(barbell_sessions):
    windows = gym_windows(barbell_sessions, rate_hz=25, channels=GYRO, length=100, hop=25)
    held_out = []
    for fold in folds(windows, "loso"):
        assert not set(windows.subjects[fold.train]) & set(windows.subjects[fold.test])
        held_out.append(fold.name)
        train = windows.subset(fold.train)
        validation = validation_mask(train, seed=1)
        # Few people: validation takes whole recordings of the training people, never test data.
        assert not set(train.sessions[validation]) & set(train.sessions[~validation])
        assert validation.any() and (~validation).any()
    assert held_out == [f"barbell_metamotion/{s}" for s in "ABCD"]
    by_day = list(folds(windows, "by-day"))
    assert len(by_day) == 4 and all(not set(windows.days[f.train]) & set(windows.days[f.test]) for f in by_day)


def test_validation_takes_whole_subjects_when_there_are_enough():
    train, test = load_uci_har(settings.SHARED_DATA_DIR)
    validation = validation_mask(train, seed=0)
    assert len(set(train.subjects[validation])) == 4
    assert not set(train.subjects[validation]) & set(train.subjects[~validation])
    assert not set(train.subjects) & set(test.subjects)  # the official split is by person too


def test_split_by_day_needs_days():
    train, _ = load_uea(settings.SHARED_DATA_DIR, "BasicMotions")
    with pytest.raises(ValueError, match="needs a workout day"):
        list(folds(train, "by-day"))


def test_uea_watch_sets_arrive_in_project_units():
    train, test = load_uea(settings.SHARED_DATA_DIR, "BasicMotions")
    assert train.X.shape == (40, 100, 6) and test.X.shape == (40, 100, 6)
    assert train.labels == ["Standing", "Running", "Walking", "Badminton"]
    # Running swings the wrist by hundreds of deg/s, not a few rad/s.
    assert np.abs(train.X[train.y == 1][..., 3:]).max() > 100



def test_holdout_keeps_one_person_of_every_dataset_aside(barbell_sessions):
    exermote = load_gym_folder(EXERMOTE, progress=False)
    windows = gym_windows(barbell_sessions + exermote, rate_hz=25, channels=GYRO, length=100, hop=25)
    (fold,) = folds(windows, "holdout")
    held_out = sorted(set(windows.subjects[fold.test]))
    assert [s.split("/")[0] for s in held_out] == ["barbell_metamotion", "exermote_upperarm"]
    assert not set(held_out) & set(windows.subjects[fold.train])
    assert len(fold.train) + len(fold.test) == len(windows)


def _correlations_and_gravity(samples: np.ndarray) -> np.ndarray:
    centred = samples - samples.mean(axis=0)
    return np.concatenate([np.corrcoef(centred.T)[np.triu_indices(6, 1)], samples[:, :3].mean(axis=0)])


def test_the_mirror_image_of_a_left_arm_set_looks_like_the_right_arm_set():
    """SPAR's people did every exercise with each arm: mirrored, a left-arm set's axis-to-axis
    correlations and gravity come nearer the same person's right-arm set than as recorded."""
    sessions = {session.name: session.recording for session in load_gym_folder(shared_data("gym/spar_shoulder_physio_seglearn"), progress=False)}
    left = [name for name in sessions if "_left_" in name]
    axis = limb_axis([rec.samples[:, :3].mean(axis=0) for rec in sessions.values()])
    assert axis == 0  # the Apple Watch's x axis runs along the forearm: a hanging arm reads ±1 g on it
    signs = mirror_signs(list(ACC + GYRO), axis)
    assert signs.tolist() == [-1, 1, 1, 1, -1, -1]  # acceleration along the arm, rotation about the two axes across it
    as_recorded, mirrored = [], []
    for name in left:
        right = _correlations_and_gravity(sessions[name.replace("_left_", "_right_")].samples)
        as_recorded.append(np.abs(_correlations_and_gravity(sessions[name].samples) - right).mean())
        mirrored.append(np.abs(_correlations_and_gravity(sessions[name].samples * signs) - right).mean())
    assert np.mean(mirrored) < 0.6 * np.mean(as_recorded)


def test_training_adds_the_mirror_image_of_windows_whose_limb_axis_is_known(barbell_sessions):
    windows = gym_windows(barbell_sessions, rate_hz=25.0, channels=ACC + GYRO, length=100, hop=50)
    assert set(windows.limb_axes) == {1}  # the MetaMotion band's y axis runs along the forearm
    known = windows.limb_axes.copy()
    known[::2] = -1  # e.g. windows of a dataset without an accelerometer to tell the axis by
    X, y = with_mirror_images(windows.X, windows.y, windows.channels, known)
    assert len(X) == len(windows) + (known >= 0).sum()
    assert np.array_equal(X[:len(windows)], windows.X)
    images = X[len(windows):]
    assert np.array_equal(images * mirror_signs(windows.channels, 1), windows.X[known >= 0])  # twice mirrored is as recorded
    assert np.array_equal(y[len(windows):], windows.y[known >= 0])
    assert np.allclose(images[:, :, 1], -windows.X[known >= 0][:, :, 1])  # gravity along the arm reversed


def test_left_arm_windows_go_into_the_right_arms_frame_the_others_stay_as_recorded():
    sessions = load_gym_folder(shared_data("gym/spar_shoulder_physio_seglearn"), progress=False)
    assert {s.side for s in sessions if "_left_" in s.name} == {"left"} and {s.side for s in sessions if "_right_" in s.name} == {"right"}
    windows = gym_windows(sessions[:6] + sessions[-6:], rate_hz=50.0, channels=ACC + GYRO, length=100, hop=100)
    framed, left = windows_in_model_frame(windows), windows.sides == "left"
    assert left.any() and (~left).any()
    assert np.array_equal(framed.X[~left], windows.X[~left])
    assert np.array_equal(framed.X[left], windows.X[left] * mirror_signs(windows.channels, 0))
    assert framed.sides.tolist() == windows.sides.tolist()
