"""A model's card: everything needed to feed a model and to judge it. Imports no TensorFlow, so
a worker serving the LiteRT file never loads Keras."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from classifier.set_finder import SetsConfig

CARD = "card.json"
KERAS_FILE = "model.keras"
TFLITE_FILE = "model.tflite"
HEAD_FILE = "head.npz"  # the output layer over the embedding, with exemplars: where an athlete's memory starts (classifier/memory.py)


@dataclass(frozen=True)
class ModelCard:
    name: str
    version: str
    arch: str
    labels: list[str]
    channels: list[str]  # in the order the model reads them
    rate_hz: float
    window: int  # samples per window
    hop: int  # samples between window starts when classifying a recording
    normalization: dict  # per-channel mean and std of the training windows (applied inside the model)
    training_data: dict  # datasets, subjects, windows per class
    split: str  # how `metrics` were measured
    metrics: dict
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    units: dict = field(default_factory=lambda: {"acc": "g", "gyr": "deg/s"})
    sets: dict = field(default_factory=lambda: SetsConfig().to_dict())  # segmentation and rep counting parameters

    @property
    def versioned_name(self) -> str:
        """What a set records as the model that made it, e.g. journal-gyro@1."""
        return f"{self.name}@{self.version}"

    @classmethod
    def load(cls, folder: Path | str) -> ModelCard:
        path = Path(folder) / CARD
        if not path.is_file():
            raise FileNotFoundError(f"{folder} is not a model artefact: it has no {CARD}")
        return cls(**json.loads(path.read_text()))
