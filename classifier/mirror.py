"""The other arm: what a device strapped to the left wrist records, seen as from the right one.

A person's left-arm movement is the mirror image of the same movement done with the right arm.
Worn the same way on either arm, a device's axis along the limb points towards the hand on one
arm and towards the elbow on the other, so the mirror image reverses the acceleration along the
limb and — angular velocity being an axial vector, which a reflection turns the other way — the
rotation about the two axes across it. Checked on SPAR, whose people did every exercise with
each arm (Apple Watch): of all 64 ways to turn the signs of the six axes, this one brings a
left-arm set's mean acceleration and axis-to-axis correlations nearest the same person's
right-arm set of the same exercise (mean difference 0.17; unmirrored 0.40; the next best 0.22).

Training on the mirror images as well lets the gym models serve a watch on either wrist, and
gives each exercise twice the examples of the way it looks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np

from classifier.channels import ACC, GYRO
from classifier.windows import WindowSet


def limb_axis(acc_means: Iterable[np.ndarray]) -> int | None:
    """The device axis along the limb: the one gravity lies along most, over the mean acceleration
    (g, x y z) of a device's recordings — a limb hangs or points up in most of a workout. None
    without any recording."""
    means = [np.abs(np.asarray(mean, dtype=np.float64)) for mean in acc_means]
    return int(np.argmax(np.mean(means, axis=0))) if means else None


def mirror_signs(channels: list[str], axis: int) -> np.ndarray:
    """±1 per channel that turns a window into its mirror image, for a device whose limb axis is `axis`."""
    flipped = {ACC[axis]} | {name for i, name in enumerate(GYRO) if i != axis}
    return np.array([-1.0 if name in flipped else 1.0 for name in channels], np.float32)


# The models' frame is the right arm's; a device on the left arm is read as its mirror image. Its
# limb axis follows from where it is worn: a watch's x runs along the forearm (SPAR: the hanging
# arm reads ±1 g on x), a phone's long side, y, along the upper arm in an armband or in the hand.
MODEL_SIDE = "right"
LIMB_AXIS_OF_PLACEMENT = {"wrist": 0, "upper_arm": 1, "hand": 1}


def in_model_frame(samples: np.ndarray, channels: list[str], side: str, placement: str) -> np.ndarray:
    """A recording's samples as from the models' arm: mirrored when worn on the other one, as they
    are when on the models' arm or when the side was not said."""
    if side in ("", MODEL_SIDE):
        return samples
    return samples * mirror_signs(channels, LIMB_AXIS_OF_PLACEMENT[placement]).astype(samples.dtype)


def windows_in_model_frame(windows: WindowSet) -> WindowSet:
    """The windows as the journal hands them to a model: those of a left-arm device mirrored into
    the right arm's frame (what `in_model_frame` does to a recording); the others as recorded."""
    if windows.sides is None or not (left := windows.sides == "left").any():
        return windows
    if windows.limb_axes is None or (windows.limb_axes[left] < 0).any():
        raise ValueError("a left-arm window's limb axis is unknown: it cannot be put in the right arm's frame")
    X = windows.X.copy()
    X[left] = _mirrored(X[left], windows.channels, windows.limb_axes[left])
    return dataclasses.replace(windows, X=X)


def mirror_images(windows: WindowSet) -> np.ndarray:
    """Every window as the device on the other arm would have recorded it; each limb axis must be known."""
    if windows.limb_axes is None or (windows.limb_axes < 0).any():
        raise ValueError("a window's limb axis is unknown: its mirror image cannot be told")
    return _mirrored(windows.X, windows.channels, windows.limb_axes)


def with_mirror_images(X: np.ndarray, y: np.ndarray, channels: list[str], limb_axes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The windows and, after them, the mirror image of each whose limb axis is known (≥ 0)."""
    known = limb_axes >= 0
    return np.concatenate([X, _mirrored(X[known], channels, limb_axes[known])]), np.concatenate([y, y[known]])


def _mirrored(X: np.ndarray, channels: list[str], limb_axes: np.ndarray) -> np.ndarray:
    images = X.copy()
    for axis in np.unique(limb_axes):
        images[limb_axes == axis] *= mirror_signs(channels, int(axis))
    return images
