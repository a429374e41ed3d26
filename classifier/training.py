"""Fitting one architecture to training windows, deterministically for a seed, with early stopping
on validation windows carved out of the training data (never the test data)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import keras
import numpy as np
from keras import layers, ops
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
    # Weight of a supervised contrastive loss on the embedding (the layer before the output) beside
    # the cross-entropy: windows of one exercise, whoever did them, pulled together, the others apart
    # (Khosla et al. 2020). 0: cross-entropy alone. What it buys an athlete's memory: BENCHMARKS.md.
    contrastive: float = 0.0
    contrastive_temperature: float = 0.1


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
    fitted, targets, validation = _with_contrastive_loss(model, config, y, validation)
    steps = config.epochs * int(np.ceil(len(X) / config.batch_size))
    fitted.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(config.learning_rate, steps)),
        loss=_losses(config),
        loss_weights=None if fitted is model else {"probabilities": 1.0, "embedding": config.contrastive},
        metrics={"probabilities": ["accuracy"]} if fitted is not model else ["accuracy"],
    )
    if progress:
        callbacks.append(EpochProgress(config.epochs, f"{config.arch} seed {seed}"))
    if on_epoch is not None:
        callbacks.append(keras.callbacks.LambdaCallback(on_epoch_end=on_epoch))
    started = time.perf_counter()
    history = fitted.fit(
        X, targets, validation_data=validation, epochs=config.epochs, batch_size=config.batch_size,
        sample_weight=_balanced_weights(y, n_classes)[y] if config.balance_classes else None, callbacks=callbacks, verbose=0,
    ).history
    if fitted is not model:  # the accuracy under the name a single-output model gives it
        history = {key.replace("probabilities_accuracy", "accuracy"): values for key, values in history.items()}
    seconds = time.perf_counter() - started
    return TrainedModel(model=model, history=history, seconds=seconds)


def _balanced_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Per class: 1 / (its share × the number of classes)."""
    counts = np.bincount(y, minlength=n_classes)
    return np.where(counts > 0, len(y) / (n_classes * np.maximum(counts, 1)), 0.0)


def _with_contrastive_loss(model: keras.Model, config: TrainingConfig, y: np.ndarray, validation):
    """What is fitted, its targets and validation data: the model itself with one-hot targets, or,
    with a contrastive weight, the same layers with the unit-length embedding as a second output
    whose target is the class index."""
    n_classes = model.output.shape[-1]
    if not config.contrastive:
        return model, keras.utils.to_categorical(y, n_classes), validation
    embedding = layers.UnitNormalization(name="embedding")(model.layers[-1].input)
    probabilities = layers.Identity(name="probabilities")(model.output)
    fitted = keras.Model(model.inputs, {"probabilities": probabilities, "embedding": embedding})
    if validation is not None:
        val_X, val_onehot = validation
        validation = (val_X, {"probabilities": val_onehot, "embedding": val_onehot.argmax(axis=1)})
    return fitted, {"probabilities": keras.utils.to_categorical(y, n_classes), "embedding": y}, validation


def _losses(config: TrainingConfig):
    cross_entropy = keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
    if not config.contrastive:
        return cross_entropy
    return {"probabilities": cross_entropy,
            "embedding": partial(supervised_contrastive, temperature=config.contrastive_temperature)}


def supervised_contrastive(labels, embeddings, temperature: float = 0.1):
    """Per window of the batch: minus the mean log-probability, among all the batch's other
    windows, of picking one of its own class by cosine similarity / temperature (SupCon's
    L_out). A window alone of its class in the batch contributes 0. `embeddings` have unit length."""
    labels = ops.reshape(ops.cast(labels, "int32"), (-1,))
    similarity = ops.matmul(embeddings, ops.transpose(embeddings)) / temperature
    itself = ops.eye(ops.shape(labels)[0])
    similarity = similarity - 1e9 * itself  # a window is never its own positive nor in the denominator
    log_probability = similarity - ops.logsumexp(similarity, axis=1, keepdims=True)
    positives = ops.cast(ops.equal(labels[:, None], labels[None, :]), "float32") * (1.0 - itself)
    return -ops.sum(positives * log_probability, axis=1) / ops.maximum(ops.sum(positives, axis=1), 1.0)


def predict(model: keras.Model, X: np.ndarray) -> np.ndarray:
    """Class probabilities for many windows in large batches (never predict() window by window)."""
    return model.predict(X, batch_size=1024, verbose=0)
