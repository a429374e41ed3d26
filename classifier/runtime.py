"""Serving a model artefact with LiteRT: ~40 MB and fork-safe, where TensorFlow is ~550 MB and
`predict()` costs ~100 ms per call. Imports no TensorFlow."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from classifier.card import TFLITE_FILE, ModelCard


class WindowClassifier:
    """Class probabilities for batches of windows, on one thread (a worker process has one core)."""

    def __init__(self, folder: Path | str, *, threads: int = 1):
        self.folder = Path(folder)
        self.card = ModelCard.load(self.folder)
        self.interpreter = Interpreter(model_path=str(self.folder / TFLITE_FILE), num_threads=threads)
        self.input = self.interpreter.get_input_details()[0]["index"]
        self.output = self.interpreter.get_output_details()[0]["index"]
        self.batch = 0

    def predict_proba(self, windows: np.ndarray) -> np.ndarray:
        expected = (self.card.window, len(self.card.channels))
        if windows.ndim != 3 or windows.shape[1:] != expected:
            raise ValueError(f"windows must have shape (n, {expected[0]}, {expected[1]}), not {windows.shape}")
        if not len(windows):
            return np.empty((0, len(self.card.labels)), np.float32)
        if len(windows) != self.batch:
            self.interpreter.resize_tensor_input(self.input, [len(windows), *expected])
            self.interpreter.allocate_tensors()
            self.batch = len(windows)
        self.interpreter.set_tensor(self.input, np.ascontiguousarray(windows, dtype=np.float32))
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output).copy()


def choose_artifact(folders: list[Path], channels: list[str]) -> Path:
    """The artefact that reads the most of the channels a recording has (gyro+acc over gyro alone)."""
    cards = {folder: ModelCard.load(folder) for folder in folders}
    usable = [folder for folder, card in cards.items() if set(card.channels) <= set(channels)]
    if not usable:
        raise LookupError(f"no model reads a recording with only {', '.join(channels)}")
    return max(usable, key=lambda folder: len(cards[folder].channels))
