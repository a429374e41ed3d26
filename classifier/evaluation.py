"""Scores of a classifier on held-out windows, and their mean ± sd over seeds."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support


@dataclass(frozen=True)
class Evaluation:
    labels: list[str]
    accuracy: float
    macro_f1: float
    per_class: dict[str, dict[str, float | None]]  # label → precision, recall, f1 (None when support is 0), support
    confusion: list[list[int]]  # rows: true label, columns: predicted

    def to_dict(self) -> dict:
        return asdict(self)

    def confusion_text(self) -> str:
        return confusion_text(self.labels, self.confusion)

    def per_class_text(self) -> str:
        width = max(8, *map(len, self.labels))
        lines = [f"{'class':>{width}}  precision  recall     f1  support"]
        for label, scores in self.per_class.items():
            if scores["support"]:
                lines.append(f"{label:>{width}}  {scores['precision']:9.3f}  {scores['recall']:6.3f}  {scores['f1']:5.3f}  {scores['support']:7d}")
            else:
                lines.append(f"{label:>{width}}  {scores['precision']:9.3f}       –      –        0")
        return "\n".join(lines)


def confusion_text(labels: list[str], confusion: list[list[int]]) -> str:
    width = max(8, *map(len, labels))
    lines = [" " * width + "  " + " ".join(f"{label[:7]:>7}" for label in labels) + "   ← predicted"]
    for label, row in zip(labels, confusion):
        lines.append(f"{label:>{width}}  " + " ".join(f"{count:>7}" for count in row))
    return "\n".join(lines)


def evaluate(y_true: np.ndarray, y_pred: np.ndarray, labels: list[str]) -> Evaluation:
    classes = np.arange(len(labels))
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=classes, zero_division=0)
    return Evaluation(
        labels=list(labels),
        accuracy=float(accuracy_score(y_true, y_pred)),
        # Only classes present in the test data count: a class nobody did cannot be recognised.
        macro_f1=float(f1_score(y_true, y_pred, labels=np.unique(y_true), average="macro", zero_division=0)),
        per_class={
            label: {"precision": float(p), "recall": float(r) if s else None, "f1": float(f) if s else None, "support": int(s)}
            for label, p, r, f, s in zip(labels, precision, recall, f1, support)
        },
        confusion=confusion_matrix(y_true, y_pred, labels=classes).tolist(),
    )


def evaluate_sets(set_keys: np.ndarray, y_true: np.ndarray, probabilities: np.ndarray, labels: list[str]) -> Evaluation | None:
    """Scores per exercise set, as the journal shows them: a set's class is the one with the
    highest mean probability over its windows. None when the windows lie in no sets."""
    keys = np.unique(set_keys[set_keys != ""])
    if not len(keys):
        return None
    truth = np.array([y_true[set_keys == key][0] for key in keys])
    predicted = np.array([probabilities[set_keys == key].mean(axis=0).argmax() for key in keys])
    return evaluate(truth, predicted, labels)


def mean_sd(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    array = np.asarray(values, dtype=np.float64)
    return float(array.mean()), float(array.std(ddof=1)) if len(array) > 1 else 0.0


def _mean_or_none(values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return mean_sd(present)[0] if present else None


def summarize(evaluations: list[Evaluation]) -> dict:
    """Mean ± sd over seeds of accuracy, macro-F1 and each class's F1; the confusions summed."""
    accuracy, accuracy_sd = mean_sd([e.accuracy for e in evaluations])
    macro_f1, macro_f1_sd = mean_sd([e.macro_f1 for e in evaluations])
    labels = evaluations[0].labels
    return {
        "seeds": len(evaluations),
        "accuracy_mean": accuracy, "accuracy_sd": accuracy_sd,
        "macro_f1_mean": macro_f1, "macro_f1_sd": macro_f1_sd,
        "per_class_f1_mean": {label: _mean_or_none([e.per_class[label]["f1"] for e in evaluations]) for label in labels},
        "confusion_summed": np.sum([e.confusion for e in evaluations], axis=0).tolist(),
        "labels": labels,
    }
