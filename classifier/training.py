"""Fitting one architecture to training windows, deterministically for a seed, with early stopping
on validation windows carved out of the training data (never the test data)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np
from tqdm import tqdm

from classifier.architectures import build
from classifier.mirror import with_mirror_images
from classifier.splits import validation_mask
from classifier.windows import WindowSet


@dataclass(frozen=True)
class TrainingConfig:
    arch: str
    epochs: int = 40
    batch_size: int = 64
    learning_rate: float = 1e-3
    patience: int = 10  # epochs without a better validation loss before stopping
    val_fraction: float = 0.2
    early_stopping: bool = True  # False: every training window is fitted for `epochs`, nothing carved out
    label_smoothing: float = 0.1
    balance_classes: bool = True  # weight each class by 1/its share, so 84 rows of one lift count beside 2,000 burpees
    mirror_arms: bool = True  # fit each window whose limb axis is known as well as its mirror image, the other arm's (classifier.mirror)


@dataclass(frozen=True)
class TrainedModel:
    """The model holds the weights of its best validation-loss epoch (its last, without early stopping)."""

    model: keras.Model
    history: dict[str, list[float]]  # per epoch: loss, accuracy (and val_loss, val_accuracy with early stopping)
    seconds: float


class EpochProgress(keras.callbacks.Callback):
    """One tqdm bar per training run, advancing by epoch, showing the latest metrics."""

    def __init__(self, epochs: int, description: str):
        super().__init__()
        self.bar = tqdm(total=epochs, desc=description, unit="epoch", leave=False)

    def on_epoch_end(self, epoch, logs=None):
        self.bar.set_postfix({k: f"{v:.3f}" for k, v in (logs or {}).items() if "acc" in k or "loss" in k})
        self.bar.update()

    def on_train_end(self, logs=None):
        self.bar.close()


def train(windows: WindowSet, config: TrainingConfig, *, seed: int, progress: bool = True,
          on_epoch: Callable[[int, dict], None] | None = None) -> TrainedModel:
    """`on_epoch(epoch, logs)` after each epoch, e.g. to report progress elsewhere than a terminal."""
    keras.utils.set_random_seed(seed)
    n_classes = len(windows.labels)
    if config.early_stopping:
        held_out = validation_mask(windows, fraction=config.val_fraction, seed=seed)
        fit, val = windows.subset(~held_out), windows.subset(held_out)
        validation = (val.X, keras.utils.to_categorical(val.y, n_classes))
        callbacks = [keras.callbacks.EarlyStopping("val_loss", patience=config.patience, restore_best_weights=True)]
    else:
        fit, validation, callbacks = windows, None, []
    X, y = fit.X, fit.y
    if config.mirror_arms and fit.limb_axes is not None:
        X, y = with_mirror_images(X, y, fit.channels, fit.limb_axes)
    model = build(config.arch, X, n_classes)
    steps = config.epochs * int(np.ceil(len(X) / config.batch_size))
    model.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(config.learning_rate, steps)),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
        metrics=["accuracy"],
    )
    if progress:
        callbacks.append(EpochProgress(config.epochs, f"{config.arch} seed {seed}"))
    if on_epoch is not None:
        callbacks.append(keras.callbacks.LambdaCallback(on_epoch_end=on_epoch))
    started = time.perf_counter()
    history = model.fit(
        X, keras.utils.to_categorical(y, n_classes), validation_data=validation, epochs=config.epochs,
        batch_size=config.batch_size, class_weight=_balanced_weights(y, n_classes) if config.balance_classes else None,
        callbacks=callbacks, verbose=0,
    ).history
    seconds = time.perf_counter() - started
    return TrainedModel(model=model, history=history, seconds=seconds)


def _balanced_weights(y: np.ndarray, n_classes: int) -> dict[int, float]:
    counts = np.bincount(y, minlength=n_classes)
    return {i: float(len(y) / (n_classes * count)) if count else 0.0 for i, count in enumerate(counts)}


def predict(model: keras.Model, X: np.ndarray) -> np.ndarray:
    """Class probabilities for many windows in large batches (never predict() window by window)."""
    return model.predict(X, batch_size=1024, verbose=0)
