"""The Keras architectures, by name. Each takes raw windows: the first layer standardises every
channel with statistics fitted on the training windows, so the exported model carries them.

(Not named `models.py`: Django imports an app's `models` module at start-up, and every web
process would load TensorFlow.)"""

from __future__ import annotations

from functools import partial
from typing import Callable

import keras
import numpy as np
from keras import layers, ops


def _inputs(train_X: np.ndarray) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    inputs = keras.Input(shape=train_X.shape[1:], name="window")
    flat = train_X.reshape(-1, train_X.shape[-1]).astype(np.float64)
    normalize = layers.Normalization(axis=-1, mean=flat.mean(axis=0), variance=np.maximum(flat.var(axis=0), 1e-12), name="standardize")
    return inputs, normalize(inputs)


def cnn_tutorial(train_X: np.ndarray, n_classes: int) -> keras.Model:
    """The 1-D CNN of the smartwatch workout tutorial (../shared/seeds/001), unchanged."""
    inputs, x = _inputs(train_X)
    x = layers.Conv1D(32, 3, activation="relu")(x)
    x = layers.MaxPooling1D(2)(x)
    x = layers.Conv1D(64, 3, activation="relu")(x)
    x = layers.GlobalMaxPooling1D()(x)
    x = layers.Dense(64, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    return keras.Model(inputs, layers.Dense(n_classes, activation="softmax")(x), name="cnn_tutorial")


def lstm_1(train_X: np.ndarray, n_classes: int) -> keras.Model:
    """The one-layer LSTM of the UCI HAR Keras notebook (../shared/seeds/004): 128 units, dropout 0.5."""
    inputs, x = _inputs(train_X)
    x = layers.LSTM(128)(x)
    x = layers.Dropout(0.5)(x)
    return keras.Model(inputs, layers.Dense(n_classes, activation="softmax")(x), name="lstm_1")


def lstm_2(train_X: np.ndarray, n_classes: int) -> keras.Model:
    """The notebook's two-layer LSTM, 128 then 64 units, dropout 0.5 after each (92.16 % there)."""
    inputs, x = _inputs(train_X)
    x = layers.LSTM(128, return_sequences=True)(x)
    x = layers.Dropout(0.5)(x)
    x = layers.LSTM(64)(x)
    x = layers.Dropout(0.5)(x)
    return keras.Model(inputs, layers.Dense(n_classes, activation="softmax")(x), name="lstm_2")


def res_cnn(train_X: np.ndarray, n_classes: int, width: int = 32) -> keras.Model:
    """Our stronger model: a small residual 1-D CNN that looks at the movement (each window minus
    its mean) apart from the posture (per-channel mean, spread and range of the window, where
    gravity tells sitting from standing and a squat from a deadlift). A strided first layer and
    two pooled stages keep it at ~50k parameters (width 32) and well under 0.1 ms per window."""
    inputs, x = _inputs(train_X)
    mean = ops.mean(x, axis=1)
    posture = layers.Concatenate()([mean, ops.std(x, axis=1), ops.max(x, axis=1), ops.min(x, axis=1)])
    movement = x - ops.expand_dims(mean, 1)
    movement = layers.Conv1D(width, 5, strides=2, padding="same")(movement)
    movement = layers.Activation("relu")(layers.BatchNormalization()(movement))
    for filters in (width, 2 * width):
        shortcut = movement if movement.shape[-1] == filters else layers.Conv1D(filters, 1)(movement)
        y = layers.Conv1D(filters, 5, padding="same")(movement)
        y = layers.Activation("relu")(layers.BatchNormalization()(y))
        y = layers.BatchNormalization()(layers.Conv1D(filters, 5, padding="same")(y))
        movement = layers.MaxPooling1D(2)(layers.Activation("relu")(layers.Add()([y, shortcut])))
    x = layers.Concatenate()([
        layers.GlobalAveragePooling1D()(movement), layers.GlobalMaxPooling1D()(movement),
        layers.Dense(64, activation="relu")(posture),
    ])
    x = layers.Dropout(0.5)(x)
    return keras.Model(inputs, layers.Dense(n_classes, activation="softmax")(x), name=f"res_cnn_{width}")


ARCHITECTURES: dict[str, Callable[[np.ndarray, int], keras.Model]] = {
    "cnn_tutorial": cnn_tutorial,
    "lstm_1": lstm_1,
    "lstm_2": lstm_2,
    "res_cnn": res_cnn,
    # Twice the filters: better on UCI HAR's validation people (0.94 vs 0.91), ~4× the compute,
    # so the served journal models stay at the narrow width.
    "res_cnn_wide": partial(res_cnn, width=64),
}


def build(arch: str, train_X: np.ndarray, n_classes: int) -> keras.Model:
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; one of {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[arch](train_X, n_classes)
