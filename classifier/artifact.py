"""A model artefact: a folder with model.keras (to retrain or inspect), model.tflite (to serve:
each window's class probabilities and its embedding, in one call), head.npz (the output layer
over the embedding, where an athlete's memory starts) and card.json (everything needed to feed
it and to judge it)."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

import keras
import numpy as np

from classifier.card import CARD, HEAD_FILE, KERAS_FILE, TFLITE_FILE, ModelCard


def normalization_of(model: keras.Model) -> dict:
    layer = model.get_layer("standardize")
    mean = np.asarray(layer.mean).reshape(-1)
    std = np.sqrt(np.asarray(layer.variance).reshape(-1))
    return {"mean": mean.round(6).tolist(), "std": std.round(6).tolist()}


def save_artifact(folder: Path | str, model: keras.Model, card: ModelCard) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / KERAS_FILE)
    export_serving(folder, model)
    (folder / CARD).write_text(json.dumps(asdict(card), indent=2) + "\n")
    return folder


def export_serving(folder: Path, model: keras.Model) -> None:
    """What a worker serves, from the Keras model: the LiteRT file with two named outputs and the
    output layer's weights. Every architecture ends in a softmax layer over the one before it
    (the embedding: dropout is the identity when serving)."""
    head = model.layers[-1]
    served = keras.Model(model.inputs, {"probabilities": model.output, "embedding": head.input})
    with tempfile.TemporaryDirectory() as scratch:
        # Keras writes the LiteRT flatbuffer itself; the batch dimension stays dynamic.
        served.export(os.path.join(scratch, TFLITE_FILE), format="litert", verbose=False)
        (folder / TFLITE_FILE).write_bytes(Path(scratch, TFLITE_FILE).read_bytes())
    kernel, bias = head.get_weights()
    np.savez(folder / HEAD_FILE, kernel=kernel.astype(np.float32), bias=bias.astype(np.float32))
