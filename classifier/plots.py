"""PNG figures people would rather look at than read: confusion matrices and training curves."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def confusion_png(confusion: list[list[int]], labels: list[str], path: Path, title: str) -> Path:
    counts = np.asarray(confusion)
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = 2.5 + 0.55 * len(labels)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if counts[i, j]:
                ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if share[i, j] > 0.5 else "black")
    fig.colorbar(image, ax=ax, label="share of the true class")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def curves_png(histories: list[dict[str, list[float]]], path: Path, title: str) -> Path:
    """Loss and accuracy per epoch, training and validation, one faint line per run."""
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for history in histories:
        epochs = np.arange(1, len(history["loss"]) + 1)
        for key, color in (("loss", "tab:blue"), ("val_loss", "tab:orange")):
            loss_ax.plot(epochs, history[key], color=color, alpha=0.6, label=key)
        for key, color in (("accuracy", "tab:blue"), ("val_accuracy", "tab:orange")):
            acc_ax.plot(epochs, history[key], color=color, alpha=0.6, label=key)
    for ax, name in ((loss_ax, "loss"), (acc_ax, "accuracy")):
        handles, names = ax.get_legend_handles_labels()
        unique = dict(zip(names, handles))
        ax.legend(unique.values(), unique.keys())
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
