"""A model artefact: a folder with model.keras (to retrain or inspect), model.tflite (to serve)
and card.json (everything needed to feed it and to judge it)."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

import keras
import numpy as np

from classifier.card import CARD, KERAS_FILE, TFLITE_FILE, ModelCard


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
