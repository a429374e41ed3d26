"""A model artefact: a folder with model.keras (to retrain or inspect), model.tflite (to serve)
and card.json (everything needed to feed it and to judge it)."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import keras
import numpy as np

from classifier.workout import SetsConfig

CARD = "card.json"
KERAS_FILE = "model.keras"
TFLITE_FILE = "model.tflite"


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

    @classmethod
    def load(cls, folder: Path | str) -> ModelCard:
        path = Path(folder) / CARD
        if not path.is_file():
            raise FileNotFoundError(f"{folder} is not a model artefact: it has no {CARD}")
        return cls(**json.loads(path.read_text()))


def normalization_of(model: keras.Model) -> dict:
    layer = model.get_layer("standardize")
    mean = np.asarray(layer.mean).reshape(-1)
    std = np.sqrt(np.asarray(layer.variance).reshape(-1))
    return {"mean": mean.round(6).tolist(), "std": std.round(6).tolist()}


def save_artifact(folder: Path | str, model: keras.Model, card: ModelCard) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / KERAS_FILE)
    with tempfile.TemporaryDirectory() as scratch:
        # Keras writes the LiteRT flatbuffer itself; the batch dimension stays dynamic.
        model.export(os.path.join(scratch, TFLITE_FILE), format="litert", verbose=False)
        (folder / TFLITE_FILE).write_bytes(Path(scratch, TFLITE_FILE).read_bytes())
    (folder / CARD).write_text(json.dumps(asdict(card), indent=2) + "\n")
    return folder
