"""A model artefact: a folder with model.keras (to retrain or inspect), model.tflite (to serve:
each window's class probabilities and its embedding, in one call), head.npz (the output layer
over the embedding and exemplars of its classes, where an athlete's memory starts) and card.json (everything needed to feed
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
from classifier.memory import GeneralHead, exemplar_rows
from classifier.windows import WindowSet


def normalization_of(model: keras.Model) -> dict:
    layer = model.get_layer("standardize")
    mean = np.asarray(layer.mean).reshape(-1)
    std = np.sqrt(np.asarray(layer.variance).reshape(-1))
    return {"mean": mean.round(6).tolist(), "std": std.round(6).tolist()}


def save_artifact(folder: Path | str, model: keras.Model, card: ModelCard, trained_on: WindowSet) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / KERAS_FILE)
    export_serving(folder, model, trained_on)
    (folder / CARD).write_text(json.dumps(asdict(card), indent=2) + "\n")
    return folder


def export_serving(folder: Path, model: keras.Model, trained_on: WindowSet) -> None:
    """What a worker serves, from the Keras model and the windows it was trained on: the LiteRT
    file with two named outputs, and the output layer with exemplars of its classes
    (classifier/memory.py). Every architecture ends in a softmax layer over the one before it (the
    embedding: dropout is the identity when serving)."""
    head = model.layers[-1]
    served = keras.Model(model.inputs, {"probabilities": model.output, "embedding": head.input})
    with tempfile.TemporaryDirectory() as scratch:
        # Keras writes the LiteRT flatbuffer itself; the batch dimension stays dynamic.
        served.export(os.path.join(scratch, TFLITE_FILE), format="litert", verbose=False)
        (folder / TFLITE_FILE).write_bytes(Path(scratch, TFLITE_FILE).read_bytes())
    general_head(model, trained_on).save(folder / HEAD_FILE)


def general_head(model: keras.Model, trained_on: WindowSet) -> GeneralHead:
    """The model's output layer, with the embeddings of exemplars of each class it was trained on."""
    kernel, bias = model.layers[-1].get_weights()
    rows = exemplar_rows(trained_on.y)
    embeddings = keras.Model(model.inputs, model.layers[-1].input).predict(trained_on.X[rows], batch_size=1024, verbose=0)
    return GeneralHead(kernel, bias, embeddings, trained_on.y[rows])
