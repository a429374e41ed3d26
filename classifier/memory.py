"""An athlete's exercise memory: the general model's output layer, taught that athlete's own
labelled sets.

The served model gives every window an embedding (the layer before its output) and names it by
one linear layer over that embedding. A memory is that layer again, per athlete: fitted to the
athlete's labelled windows, and pulled back towards the general model's weights, so that what the
athlete never taught stays as the general model knows it (`pull`). An exercise only the athlete
has done is a new column of the layer, starting from nothing. Every labelled window counts the
same.

Why a layer and not prototypes (the mean embedding of each taught exercise, nearest wins): in a
first look at the Apple Watch lifter's later days, taught from the earlier ones, a linear layer
over the windows named 0.81–0.88 of the taught exercises' sets right where prototypes named
0.69–0.81; and the layer keeps the general model's classes in the same competition, so one rule
names every set and says when nothing fits (`unknown_below`). That first look also chose one
weight per window over one per set (which named fewer right): a choice made on those days,
disclosed in BENCHMARKS.md. `pull` was chosen on the lifter's first three days alone (teach on
two, name the third's sets of taught exercises): 1e-5 to 1e-3 named 15–16 of 17 right, 1e-2
13; the strongest pull of that plateau keeps the general exercises nearest the general model.

The athlete's windows are fitted beside a few of the general model's own training windows of each
of its exercises (exemplars, shipped with the model): taught a single exercise, a memory would
otherwise learn that everything is that exercise.

A memory is a few tens of kB (classes × embedding floats, and each taught set's mean embedding in
float16), taught in seconds from the athlete's labelled windows; it belongs to one model version
(its embedding) and one athlete.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

from classifier.segmentation import REST, UNKNOWN


EXEMPLARS_PER_CLASS = 32


@dataclass(frozen=True)
class GeneralHead:
    """The general model's output layer over the embedding, with embeddings of some of the windows
    it was trained on (`exemplars`, EXEMPLARS_PER_CLASS of each class): what an exercise the athlete
    did not teach looks like. Without them, a memory taught one exercise names every set that."""

    kernel: np.ndarray  # (features, classes)
    bias: np.ndarray  # (classes,)
    exemplars: np.ndarray  # (n, features)
    exemplar_classes: np.ndarray  # (n,) index into the model's classes

    def save(self, path) -> None:
        np.savez(path, kernel=self.kernel.astype(np.float32), bias=self.bias.astype(np.float32),
                 exemplars=self.exemplars.astype(np.float16), exemplar_classes=self.exemplar_classes.astype(np.int16))

    @classmethod
    def load(cls, path) -> GeneralHead:
        with np.load(path) as stored:
            return cls(stored["kernel"], stored["bias"], stored["exemplars"].astype(np.float32), stored["exemplar_classes"].astype(int))


def exemplar_rows(classes: np.ndarray, per_class: int = EXEMPLARS_PER_CLASS, seed: int = 0) -> np.ndarray:
    """Which training windows are kept as exemplars: up to `per_class` of each class, at random."""
    rng = np.random.default_rng(seed)
    return np.sort(np.concatenate([rng.permutation(np.flatnonzero(classes == c))[:per_class] for c in np.unique(classes)]))


@dataclass(frozen=True)
class MemoryConfig:
    pull: float = 1e-3  # L2 weight towards the general model's layer (new exercises: towards zero)
    unknown_below: float = 0.5  # a set whose best exercise is less likely than this is unknown
    suggestions: int = 3  # the athlete's closest exercises offered for an unknown set
    max_iterations: int = 1000
    replay: bool = True  # fit beside the general model's exemplars (False: the athlete's windows alone, plain fine-tuning)
    # With a value: a set named one of the athlete's own exercises is unknown unless its mean
    # embedding is at least this close (cosine) to one of the sets that taught that exercise —
    # softmax has to name something, and an exercise never taught is otherwise named as the
    # athlete's nearest one. Off (None) by default: at 0.93 (chosen on the Apple Watch lifter's
    # first three days) it asks about new exercises on the later days (right or asking 0.662 →
    # 0.844) but also about later sets of a lift taught with few sets (barbell, a new lift's F1
    # after 3 sets 0.947 → 0.713). `bench personal --ask-below` measures it (BENCHMARKS.md).
    novel_below: float | None = None


@dataclass(frozen=True)
class Naming:
    exercise: str  # a class, or "unknown"
    confidence: float  # its mean probability over the set's windows
    learned_from: int  # the athlete's labelled sets of that exercise behind the name (0: the general model's)
    suggestions: tuple[str, ...] = ()  # for an unknown set: the athlete's own exercises it is closest to


@dataclass(frozen=True)
class ExerciseMemory:
    labels: tuple[str, ...]  # every exercise it names: the general model's (less rest), then the athlete's own
    kernel: np.ndarray  # (features, labels)
    bias: np.ndarray  # (labels,)
    sets_taught: dict[str, int] = field(default_factory=dict)  # exercise → the athlete's labelled sets of it
    config: MemoryConfig = MemoryConfig()
    # each taught set's mean embedding, unit length, and its exercise (an index into `labels`)
    set_embeddings: np.ndarray = field(default_factory=lambda: np.empty((0, 0), np.float32))
    set_exercises: np.ndarray = field(default_factory=lambda: np.empty(0, int))

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        """(windows, labels): each window's exercise, as this athlete's memory reads it."""
        logits = embeddings.astype(np.float64) @ self.kernel + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def name(self, embeddings: np.ndarray) -> Naming:
        """A set's exercise from its windows' embeddings: the highest mean probability."""
        mean = self.probabilities(embeddings).mean(axis=0)
        best = int(mean.argmax())
        if mean[best] < self.config.unknown_below or self._unlike_its_sets(embeddings, best):
            taught = [i for i in np.argsort(-mean) if self.labels[i] in self.sets_taught]
            return Naming(UNKNOWN, float(mean[best]), 0, tuple(self.labels[i] for i in taught[:self.config.suggestions]))
        exercise = self.labels[best]
        return Naming(exercise, float(mean[best]), self.sets_taught.get(exercise, 0))

    def _unlike_its_sets(self, embeddings: np.ndarray, exercise: int) -> bool:
        """Whether a set named `exercise` is closer to none of the sets that taught it than `novel_below`."""
        theirs = self.set_embeddings[self.set_exercises == exercise]
        if self.config.novel_below is None or not len(theirs):
            return False
        return float((theirs @ _unit(embeddings.mean(axis=0))).max()) < self.config.novel_below

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, kernel=self.kernel.astype(np.float32), bias=self.bias.astype(np.float32),
                            set_embeddings=self.set_embeddings.astype(np.float16), set_exercises=self.set_exercises.astype(np.int16),
                            meta=np.frombuffer(json.dumps({"labels": list(self.labels), "sets_taught": self.sets_taught}).encode(),
                                               np.uint8))
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, config: MemoryConfig = MemoryConfig()) -> ExerciseMemory:
        with np.load(io.BytesIO(data)) as stored:
            meta = json.loads(stored["meta"].tobytes())
            sets = {key: stored[key].astype(dtype) for key, dtype in (("set_embeddings", np.float32), ("set_exercises", int))
                    if key in stored}  # a memory stored before they were kept has none: no novelty test
            return cls(tuple(meta["labels"]), stored["kernel"], stored["bias"], meta["sets_taught"], config, **sets)


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / max(float(np.linalg.norm(vector)), 1e-12)


def teach(general_labels: list[str], head: GeneralHead, embeddings: np.ndarray, exercises: np.ndarray,
          sets: np.ndarray, config: MemoryConfig = MemoryConfig()) -> ExerciseMemory:
    """The memory of an athlete whose labelled windows have these embeddings, exercises (names)
    and sets (any id, one per labelled set), fitted beside the general model's exemplars."""
    kernel, bias = head.kernel, head.bias
    general = [i for i, label in enumerate(general_labels) if label != REST]
    own = sorted(set(exercises.tolist()) - {general_labels[i] for i in general} - {REST, UNKNOWN})
    labels = tuple([general_labels[i] for i in general] + own)
    start_kernel = np.concatenate([kernel[:, general], np.zeros((kernel.shape[0], len(own)))], axis=1).astype(np.float64)
    # A new exercise starts as unlikely as the general model's least likely class.
    start_bias = np.concatenate([bias[general], np.full(len(own), bias[general].min() if general else 0.0)]).astype(np.float64)
    taught = np.isin(exercises, labels)
    names, set_ids = exercises[taught], sets[taught]
    sets_taught = {label: len(set(set_ids[names == label].tolist())) for label in sorted(set(names.tolist()))}
    if not len(names):
        return ExerciseMemory(labels, start_kernel, start_bias, {}, config)
    each_set = sorted(set(set_ids.tolist()))
    set_embeddings = np.array([_unit(embeddings[taught][set_ids == key].mean(axis=0)) for key in each_set], np.float32)
    set_exercises = np.array([labels.index(names[set_ids == key][0]) for key in each_set])
    replayed = np.isin(head.exemplar_classes, general) & config.replay
    X = np.concatenate([embeddings[taught], head.exemplars[replayed]]).astype(np.float64)
    y = np.concatenate([[labels.index(name) for name in names],
                        [labels.index(general_labels[c]) for c in head.exemplar_classes[replayed]]]).astype(int)
    n_features, n_labels = start_kernel.shape
    onehot = np.eye(n_labels)[y]

    def loss(flat: np.ndarray) -> tuple[float, np.ndarray]:
        W, b = flat[:-n_labels].reshape(n_features, n_labels), flat[-n_labels:]
        logits = X @ W + b
        logits -= logits.max(axis=1, keepdims=True)
        log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        error = (np.exp(log_p) - onehot) / len(X)
        pulled_W, pulled_b = W - start_kernel, b - start_bias
        value = -(log_p * onehot).sum() / len(X) + config.pull / 2 * ((pulled_W ** 2).sum() + (pulled_b ** 2).sum())
        gradient = np.concatenate([(X.T @ error + config.pull * pulled_W).ravel(), error.sum(axis=0) + config.pull * pulled_b])
        return value, gradient

    fitted = minimize(loss, np.concatenate([start_kernel.ravel(), start_bias]), jac=True, method="L-BFGS-B",
                      options={"maxiter": config.max_iterations})
    W, b = fitted.x[:-n_labels].reshape(n_features, n_labels), fitted.x[-n_labels:]
    return ExerciseMemory(labels, W, b, sets_taught, config, set_embeddings, set_exercises)
