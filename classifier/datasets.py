"""The named public datasets of ../shared/data, as (train, test) window sets in their official
splits. Gym-format folders are read by classifier.gymformat."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from classifier.preprocessing import to_project_units
from classifier.windows import WindowSet

UEA_SETS = ("BasicMotions", "RacketSports", "Epilepsy", "Handwriting")
# The archive's watch sets are in m/s² (without gravity) and rad/s (../shared/data/README.md).
UEA_UNITS = {"BasicMotions": {"acc": "m/s2", "gyr": "rad/s"}, "RacketSports": {"acc": "m/s2", "gyr": "rad/s"}}


def load_uci_har(data_dir: Path | str) -> tuple[WindowSet, WindowSet]:
    """UCI HAR raw inertial windows: 128 samples at 50 Hz, 9 channels (body_acc, body_gyro in
    rad/s, total_acc), 21 training and 9 test subjects."""
    archive = np.load(Path(data_dir) / "uci_har" / "uci_har.npz")
    labels = [str(name) for name in archive["activities"]]
    channels = [str(name) for name in archive["channels"]]

    def part(name: str) -> WindowSet:
        subjects = np.array([f"uci_har/{s}" for s in archive[f"subject_{name}"]])
        return WindowSet(
            X=archive[f"X_{name}"].astype(np.float32), y=archive[f"y_{name}"].astype(np.int64) - 1, labels=labels,
            channels=channels, rate_hz=float(archive["sample_rate_hz"]), subjects=subjects,
            sessions=subjects, days=np.full(len(subjects), ""), starts=np.zeros(len(subjects), np.int64),
            sets=np.full(len(subjects), ""),
        )

    return part("train"), part("test")


def load_uea(data_dir: Path | str, name: str) -> tuple[WindowSet, WindowSet]:
    """A UEA wrist set in its official split, in g and deg/s where the source units are known.
    The archive names no people, so every case counts as its own subject."""
    if name not in UEA_SETS:
        raise ValueError(f"unknown UEA set {name!r}; one of {', '.join(UEA_SETS)}")
    archive = np.load(Path(data_dir) / "uea" / f"{name}.npz")
    labels = [str(label) for label in archive["classes"]]
    try:
        rate = float(archive["sample_rate_hz"])
    except ValueError:
        rate = float("nan")  # Handwriting states none

    def part(split: str) -> WindowSet:
        y = np.array([labels.index(str(label)) for label in archive[f"y_{split}"]], dtype=np.int64)
        cases = np.array([f"{name}/{split}/{i}" for i in range(len(y))])
        channels = [str(c) for c in archive["channels"]]
        return WindowSet(
            X=to_project_units(archive[f"X_{split}"].astype(np.float32), channels, UEA_UNITS.get(name, {})), y=y,
            labels=labels, channels=channels, rate_hz=rate, subjects=cases, sessions=cases,
            days=np.full(len(y), ""), starts=np.zeros(len(y), np.int64), sets=np.full(len(y), ""),
        )

    return part("train"), part("test")
