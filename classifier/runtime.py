"""Serving a model artefact with LiteRT: ~40 MB and fork-safe, where TensorFlow is ~550 MB and
`predict()` costs ~100 ms per call. Imports no TensorFlow."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from classifier.card import HEAD_FILE, TFLITE_FILE, ModelCard
from classifier.memory import GeneralHead


MAX_BATCH = 4096  # windows per interpreter call


@dataclass(frozen=True)
class Prediction:
    probabilities: np.ndarray  # (windows, classes)
    embeddings: np.ndarray | None  # (windows, features): None from an artefact made before embeddings were served


class WindowClassifier:
    """Class probabilities and embeddings for batches of windows, in one LiteRT call, on one
    thread (a worker process has one core)."""

    def __init__(self, folder: Path | str, *, threads: int = 1):
        self.folder = Path(folder)
        self.card = ModelCard.load(self.folder)
        self.interpreter = Interpreter(model_path=str(self.folder / TFLITE_FILE), num_threads=threads)
        self.input = self.interpreter.get_input_details()[0]["index"]
        outputs = self.interpreter.get_signature_runner().get_output_details()
        self.output = outputs["probabilities"]["index"] if "probabilities" in outputs else self.interpreter.get_output_details()[0]["index"]
        self.embedding = outputs["embedding"]["index"] if "embedding" in outputs else None
        self.embedding_width = int(outputs["embedding"]["shape_signature"][-1]) if "embedding" in outputs else 0
        self.batch = 0

    @functools.cached_property
    def head(self) -> GeneralHead | None:
        """The output layer over the embedding and its exemplars; None for an artefact without them."""
        if self.embedding is None or not (self.folder / HEAD_FILE).is_file():
            return None
        return GeneralHead.load(self.folder / HEAD_FILE)

    def predict(self, windows: np.ndarray) -> Prediction:
        """Any number of windows: more than MAX_BATCH go through in batches of it (the
        interpreter's tensors grow with the batch)."""
        expected = (self.card.window, len(self.card.channels))
        if windows.ndim != 3 or windows.shape[1:] != expected:
            raise ValueError(f"windows must have shape (n, {expected[0]}, {expected[1]}), not {windows.shape}")
        if not len(windows):
            return Prediction(np.empty((0, len(self.card.labels)), np.float32),
                              None if self.embedding is None else np.empty((0, self.embedding_width), np.float32))
        if len(windows) > MAX_BATCH:
            parts = [self.predict(windows[i:i + MAX_BATCH]) for i in range(0, len(windows), MAX_BATCH)]
            return Prediction(np.concatenate([p.probabilities for p in parts]),
                              None if self.embedding is None else np.concatenate([p.embeddings for p in parts]))
        if len(windows) != self.batch:
            self.interpreter.resize_tensor_input(self.input, [len(windows), *expected])
            self.interpreter.allocate_tensors()
            self.batch = len(windows)
        self.interpreter.set_tensor(self.input, np.ascontiguousarray(windows, dtype=np.float32))
        self.interpreter.invoke()
        return Prediction(self.interpreter.get_tensor(self.output).copy(),
                          None if self.embedding is None else self.interpreter.get_tensor(self.embedding).copy())

    def predict_proba(self, windows: np.ndarray) -> np.ndarray:
        return self.predict(windows).probabilities


def choose_artifact(folders: list[Path], channels: list[str]) -> Path:
    """The artefact that reads the most of the channels a recording has (gyro+acc over gyro alone)."""
    cards = {folder: ModelCard.load(folder) for folder in folders}
    usable = [folder for folder, card in cards.items() if set(card.channels) <= set(channels)]
    if not usable:
        raise LookupError(f"no model reads a recording with only {', '.join(channels)}")
    return max(usable, key=lambda folder: len(cards[folder].channels))
