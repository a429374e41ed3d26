"""Training-time augmentation for wrist data: the same movement with the sensor turned a little,
as a band sits differently on every wrist and every day."""

from __future__ import annotations

import keras
import numpy as np
from scipy.spatial.transform import Rotation


def axis_triplets(channels: list[str]) -> list[list[int]]:
    """Indices of each x, y, z group (acc_x acc_y acc_z → one triplet)."""
    triplets = []
    for i, name in enumerate(channels):
        if name.endswith("_x") and channels[i + 1:i + 3] == [name[:-2] + "_y", name[:-2] + "_z"]:
            triplets.append([i, i + 1, i + 2])
    return triplets


def rotate(windows: np.ndarray, channels: list[str], max_degrees: float, rng: np.random.Generator) -> np.ndarray:
    """Each window turned by its own random rotation of up to `max_degrees`, the same rotation for
    every sensor of that window (they sit in one case)."""
    axes = rng.normal(size=(len(windows), 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    angles = np.radians(rng.uniform(-max_degrees, max_degrees, size=(len(windows), 1)))
    matrices = Rotation.from_rotvec(axes * angles).as_matrix().astype(np.float32)
    turned = windows.copy()
    for triplet in axis_triplets(channels):
        turned[..., triplet] = np.einsum("nij,ntj->nti", matrices, windows[..., triplet])
    return turned


class RotatedBatches(keras.utils.PyDataset):
    """Shuffled training batches, each window freshly rotated every epoch."""

    def __init__(self, X: np.ndarray, y: np.ndarray, channels: list[str], *, max_degrees: float, batch_size: int, seed: int):
        super().__init__()
        self.X, self.y, self.channels = X, y, channels
        self.max_degrees, self.batch_size = max_degrees, batch_size
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(X))

    def __len__(self) -> int:
        return int(np.ceil(len(self.X) / self.batch_size))

    def __getitem__(self, index: int):
        rows = self.order[index * self.batch_size:(index + 1) * self.batch_size]
        return rotate(self.X[rows], self.channels, self.max_degrees, self.rng), self.y[rows]

    def on_epoch_end(self):
        self.order = self.rng.permutation(len(self.X))
