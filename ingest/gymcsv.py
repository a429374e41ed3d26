"""The uniform gym CSV format of ../shared/data/gym (t, acc_*, gyr_*, label, set_id).

The protocol carries samples at one nominal rate, so a file read for streaming or import
is put on a uniform time grid at its median sampling interval (linear interpolation:
source jitter and short gaps are smoothed over, as a watch's own resampling would).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ingest.protocol import CHANNELS


@dataclass(frozen=True)
class GymRecording:
    samples: np.ndarray  # float32 (samples, channels) on a uniform grid
    channels: list[str]
    rate_hz: float

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.rate_hz


def read_gym_csv(path: Path | str) -> GymRecording:
    frame = pd.read_csv(path)
    if "t" not in frame.columns:
        raise ValueError(f"{path}: no 't' column; not a gym-format CSV")
    channels = [name for name in CHANNELS if name in frame.columns and frame[name].notna().any()]
    if not channels:
        raise ValueError(f"{path}: none of the channels {', '.join(CHANNELS)} has values")
    t = frame["t"].to_numpy(dtype=np.float64)
    if len(t) < 2 or np.any(np.diff(t) <= 0):
        raise ValueError(f"{path}: 't' must be strictly increasing with at least two samples")
    rate_hz = float(np.round(1.0 / np.median(np.diff(t)), 3))
    grid = np.arange(int(np.floor((t[-1] - t[0]) * rate_hz + 1e-9)) + 1) / rate_hz + t[0]
    values = frame[channels].to_numpy(dtype=np.float64)
    samples = np.column_stack([np.interp(grid, t, values[:, i]) for i in range(len(channels))])
    return GymRecording(samples=samples.astype(np.float32), channels=channels, rate_hz=rate_hz)


def write_gym_csv(path: Path | str, recording: GymRecording) -> None:
    """Write the signal in the gym format; label and set_id stay empty (no labels yet)."""
    table = pd.DataFrame(recording.samples, columns=recording.channels)
    table.insert(0, "t", np.arange(len(recording.samples)) / recording.rate_hz)
    table["label"] = ""
    table["set_id"] = ""
    table.to_csv(path, index=False)  # float32 columns print their shortest exact form
