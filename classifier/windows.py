"""Fixed-length windows cut by sample index, each carrying the subject and session it came from."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from classifier.preprocessing import resample, select_channels


def window_starts(n_samples: int, length: int, hop: int) -> np.ndarray:
    """Start indices of every whole window; a recording shorter than one window has none."""
    if n_samples < length:
        return np.empty(0, dtype=np.int64)
    return np.arange(0, n_samples - length + 1, hop, dtype=np.int64)


def cut_windows(samples: np.ndarray, length: int, hop: int) -> np.ndarray:
    """(samples, channels) → (windows, length, channels), copied out of a strided view."""
    starts = window_starts(len(samples), length, hop)
    if not len(starts):
        return np.empty((0, length, samples.shape[1]), samples.dtype)
    view = np.lib.stride_tricks.sliding_window_view(samples, length, axis=0)[starts]
    return np.ascontiguousarray(view.transpose(0, 2, 1))


def recording_windows(samples: np.ndarray, channels: list[str], rate_hz: float, *, model_channels: list[str],
                      model_rate_hz: float, length: int, hop: int) -> np.ndarray:
    """A whole recording's windows as a model reads them: its channels picked, resampled to its
    rate, cut every `hop` samples of that rate. No windows for a recording shorter than one."""
    if len(samples) * model_rate_hz / rate_hz < length:
        return np.empty((0, length, len(model_channels)), np.float32)
    prepared = resample(select_channels(samples, channels, model_channels).astype(np.float32), rate_hz, model_rate_hz)
    return cut_windows(prepared, length, hop)


@dataclass(frozen=True)
class WindowSet:
    """Windows with their labels and where each came from: split by these, never by window."""

    X: np.ndarray  # float32 (windows, length, channels)
    y: np.ndarray  # int, index into `labels`
    labels: list[str]
    channels: list[str]
    rate_hz: float
    subjects: np.ndarray  # str
    sessions: np.ndarray  # str
    days: np.ndarray  # str, ISO date; "" when the source has none
    starts: np.ndarray  # sample index of each window in its session
    sets: np.ndarray  # str, the exercise set a window lies in ("session#set_id"); "" when none
    limb_axes: np.ndarray | None = None  # int, the device axis along the arm (classifier.mirror); -1 or None: unknown
    sides: np.ndarray | None = None  # str, the arm the device was on: "left", "right"; "" or None: not said

    def __len__(self) -> int:
        return len(self.y)

    @property
    def window_length(self) -> int:
        return self.X.shape[1]

    def subset(self, index: np.ndarray) -> WindowSet:
        """The windows at a boolean mask or integer index."""
        return dataclasses.replace(
            self, X=self.X[index], y=self.y[index], subjects=self.subjects[index],
            sessions=self.sessions[index], days=self.days[index], starts=self.starts[index], sets=self.sets[index],
            limb_axes=None if self.limb_axes is None else self.limb_axes[index],
            sides=None if self.sides is None else self.sides[index],
        )

    def without_labels(self, excluded: tuple[str, ...] | list[str]) -> WindowSet:
        """These windows less those of the excluded classes, which stop being classes."""
        if not set(excluded) & set(self.labels):
            return self
        kept = [label for label in self.labels if label not in excluded]
        remaining = self.subset(np.isin(self.y, [self.labels.index(label) for label in kept]))
        new_index = np.array([kept.index(label) if label in kept else -1 for label in self.labels])
        return dataclasses.replace(remaining, y=new_index[remaining.y], labels=kept)
