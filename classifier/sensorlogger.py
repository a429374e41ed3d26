"""Recordings of the Sensor Logger app (iOS with its Apple Watch companion, and Android), in the
journal's units and axes: acceleration in g with gravity, as a specific force (a device lying
face up reads z = +1 g), and rotation rates in deg/s.

Its zip export holds one CSV per sensor (`time` in epoch nanoseconds, then the sensor's
columns; tszheichoi/awesome-sensor-logger, UNITS.md and COORDINATES.md):

- WristMotion.csv, the watch: rotationRate{X,Y,Z} (rad/s), acceleration{X,Y,Z} (the user's
  acceleration) and gravity{X,Y,Z}, in g — or in m/s² when the app's "Standardise Units &
  Frames" is on. Preferred when there: the journal reads a wrist.
- else the phone: Accelerometer.csv (the user's acceleration, m/s²) with Gravity.csv (m/s²), or
  Android's TotalAcceleration.csv (gravity included), and Gyroscope.csv (rad/s).

Apple's acceleration is an inertial force (a device lying face up has gravity z = −1 g), the
opposite sign of Android's and the journal's: iOS readings are negated (Metadata.csv names the
platform; the watch is always Apple's). The watch's unit is told by its gravity's magnitude (1 in
g, 9.8 in m/s²), which does not depend on a setting the export may not carry.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from classifier.channels import ACC, GYRO
from classifier.gymformat import GymRecording, on_uniform_grid

STANDARD_GRAVITY = 9.80665  # m/s² in a g, as Sensor Logger assumes
MAX_UNZIPPED_BYTES = 512 << 20  # a zip that would unpack to more is refused before reading (a zip bomb); 4 h at 100 Hz is ~300 MB
XYZ = ("X", "Y", "Z")
WRIST_QUANTITIES = ("acceleration", "gravity", "rotationRate")  # the order wrist_motion takes them


@dataclass(frozen=True)
class SensorLoggerRecording:
    recording: GymRecording  # acc_* and gyr_* on a uniform grid
    started_at: datetime  # the first sample's time
    source: str  # which of the export's sensors it is: "watch" or "phone"


def read_sensor_logger_zip(file: Path | str | io.IOBase) -> SensorLoggerRecording:
    """A Sensor Logger zip export; a ValueError that says what is wrong with one the journal
    cannot read (not a zip, no motion sensor, missing columns)."""
    try:
        archive = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError) as error:
        raise ValueError(f"not a readable zip file ({error})") from None
    with archive:
        if sum(member.file_size for member in archive.infolist()) > MAX_UNZIPPED_BYTES:
            raise ValueError(f"it would unpack to more than {MAX_UNZIPPED_BYTES >> 20} MB")
        # Exports are a folder of CSV files, zipped with or without the folder.
        members = {PurePosixPath(name).name.lower(): name for name in archive.namelist() if not name.endswith("/")}

        def table(name: str) -> pd.DataFrame | None:
            if name not in members:
                return None
            try:
                return pd.read_csv(archive.open(members[name]))
            except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, zipfile.BadZipFile) as error:
                raise ValueError(f"{members[name]} is not a readable CSV file ({error})") from None

        if (wrist := table("wristmotion.csv")) is not None:
            return _watch(wrist)
        metadata = table("metadata.csv")
        platform = str(metadata["platform"].iloc[0]).strip().lower() if metadata is not None and "platform" in metadata else ""
        return _phone(table("accelerometer.csv"), table("gravity.csv"), table("totalacceleration.csv"),
                      table("gyroscope.csv"), ios=platform == "ios")


def _watch(wrist: pd.DataFrame) -> SensorLoggerRecording:
    columns = [_columns(wrist, [f"{quantity}{a}" for a in XYZ], "WristMotion.csv") for quantity in WRIST_QUANTITIES]
    return _recording(_times(wrist, "WristMotion.csv"), wrist_motion(*columns), "watch")


def wrist_motion(user: np.ndarray, gravity: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """Apple Watch wrist motion (the user's acceleration and gravity, in g or m/s²; rotation
    rate in rad/s, each n × 3) as the journal's acc_* (g, gravity included) and gyr_* (deg/s)."""
    in_si = np.nanmedian(np.linalg.norm(gravity, axis=1)) > 3  # 1 in g, 9.8 in m/s²
    acc = -(user + gravity) / (STANDARD_GRAVITY if in_si else 1.0)
    return np.column_stack([acc, np.degrees(rotation)])


def phone_acceleration(acc_m_s2: np.ndarray, *, ios: bool) -> np.ndarray:
    """A phone's acceleration with gravity (m/s², n × 3) in the journal's g and sign."""
    return acc_m_s2 / STANDARD_GRAVITY * (-1.0 if ios else 1.0)


def _phone(user: pd.DataFrame | None, gravity: pd.DataFrame | None, total: pd.DataFrame | None,
           gyroscope: pd.DataFrame | None, *, ios: bool) -> SensorLoggerRecording:
    if total is not None:
        t_ns, acc = _times(total, "TotalAcceleration.csv"), _columns(total, ["x", "y", "z"], "TotalAcceleration.csv")
        ios = False  # Android's, gravity included, the journal's sign
    elif user is not None and gravity is not None:
        t_ns = _times(user, "Accelerometer.csv")
        gravity_at = _at(t_ns, gravity, "Gravity.csv")
        acc = _columns(user, ["x", "y", "z"], "Accelerometer.csv") + gravity_at
    else:
        raise ValueError("it holds no motion sensor the journal reads: WristMotion.csv (Apple Watch), or the phone's "
                         "Accelerometer.csv with Gravity.csv (or TotalAcceleration.csv)")
    values = [phone_acceleration(acc, ios=ios)]
    if gyroscope is not None:
        values.append(np.degrees(_at(t_ns, gyroscope, "Gyroscope.csv")))
    return _recording(t_ns, np.column_stack(values), "phone")


def _times(frame: pd.DataFrame, name: str) -> np.ndarray:
    if "time" not in frame:
        raise ValueError(f"{name} has no 'time' column")
    t_ns = pd.to_numeric(frame["time"], errors="coerce").to_numpy(np.float64)
    if not np.isfinite(t_ns).all():
        raise ValueError(f"{name}: 'time' must hold numbers (epoch nanoseconds)")
    return t_ns


def _columns(frame: pd.DataFrame, columns: list[str], name: str) -> np.ndarray:
    missing = [c for c in columns if c not in frame]
    if missing:
        raise ValueError(f"{name} lacks the column(s) {', '.join(missing)}")
    return frame[columns].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)


def _at(t_ns: np.ndarray, frame: pd.DataFrame, name: str) -> np.ndarray:
    """Another sensor's x, y, z at the times `t_ns` (the phone's sensors tick on their own clocks)."""
    times = _times(frame, name)
    order = np.argsort(times)
    values = _columns(frame, ["x", "y", "z"], name)[order]
    return np.column_stack([np.interp(t_ns, times[order], values[:, i]) for i in range(3)])


def nominal_rate_hz(t_s: np.ndarray) -> float:
    """The whole number of Hz the app sampled at, from two or more increasing times (s). Its
    timestamps jitter: the median of single intervals is off by a little, and a little per
    sample drifts by seconds over a recording."""
    return float(max(1, round(1.0 / np.median(np.diff(t_s)))))


def _recording(t_ns: np.ndarray, values: np.ndarray, source: str) -> SensorLoggerRecording:
    if len(t_ns) < 2:
        raise ValueError("it holds fewer than two motion readings")
    order = np.argsort(t_ns, kind="stable")
    t_ns, values = t_ns[order], values[order]
    keep = np.concatenate([[True], np.diff(t_ns) > 0])  # a reading logged twice counts once
    t_ns, values = t_ns[keep], values[keep]
    t_s = (t_ns - t_ns[0]) / 1e9
    try:
        samples, rate_hz, _ = on_uniform_grid(t_s, values, nominal_rate_hz(t_s) if len(t_s) > 1 else None)
    except ValueError as error:
        raise ValueError(f"its 'time' {error}") from None
    channels = list(ACC + GYRO)[:values.shape[1]]
    started_at = datetime.fromtimestamp(t_ns[0] / 1e9, tz=timezone.utc)
    return SensorLoggerRecording(GymRecording.unlabelled(samples, channels, rate_hz), started_at, source)
