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
        for ax, keys in ((loss_ax, ("loss", "val_loss")), (acc_ax, ("accuracy", "val_accuracy"))):
            for key, color in zip(keys, ("tab:blue", "tab:orange")):
                if key in history:  # no validation curve for a run trained without early stopping
                    ax.plot(epochs, history[key], color=color, alpha=0.6, label=key)
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


def recording_png(samples: np.ndarray, channels: list[str], rate_hz: float, path: Path, title: str, *,
                  true_sets=(), found_sets=()) -> Path:
    """A recording's signal (one panel per sensor), the true sets above the predicted ones, and a
    tick at every counted repetition. `true_sets` have start_s, end_s, exercise and reps (or
    None); `found_sets` also have rep_times_s."""
    sensors = [(prefix, [i for i, name in enumerate(channels) if name.startswith(prefix)]) for prefix in ("acc", "gyr")]
    sensors = [(prefix, index) for prefix, index in sensors if index]
    fig, axes = plt.subplots(len(sensors) + 1, 1, figsize=(14, 2.2 * len(sensors) + 1.8), sharex=True,
                             gridspec_kw={"height_ratios": [3] * len(sensors) + [2]})
    t = np.arange(len(samples)) / rate_hz
    for ax, (prefix, index) in zip(axes, sensors):
        for i in index:
            ax.plot(t, samples[:, i], linewidth=0.7, label=channels[i])
        ax.set_ylabel("g" if prefix == "acc" else "deg/s")
        ax.legend(loc="upper right", fontsize=7, ncol=3)
        for found in found_sets:
            ax.axvspan(found.start_s, found.end_s, color="tab:green", alpha=0.08)
            for rep in found.rep_times_s:
                ax.axvline(rep, color="tab:red", linewidth=0.6, alpha=0.7)
    lanes = axes[-1]
    for row, (sets, color, name) in enumerate(((true_sets, "tab:blue", "true"), (found_sets, "tab:green", "found"))):
        for s in sets:
            lanes.broken_barh([(s.start_s, s.end_s - s.start_s)], (1 - row + 0.1, 0.8), color=color, alpha=0.6)
            reps = s.reps if s.reps is not None else "?"
            lanes.text((s.start_s + s.end_s) / 2, 1 - row + 0.5, f"{s.exercise}\n{reps} reps", ha="center", va="center", fontsize=7)
    lanes.set_yticks([1.5, 0.5], ["true", "found"])
    lanes.set_ylim(0, 2)
    lanes.set_xlabel("seconds")
    axes[0].set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def shots_png(results: dict, path: Path, title: str) -> Path:
    """Set macro-F1 against the sets taught per exercise (k), a line per method, a panel per
    dataset (`bench personal`'s results); the general model as a dashed level."""
    fig, axes = plt.subplots(1, len(results), figsize=(4.5 * len(results), 4), squeeze=False)
    # One colour per method in every panel, though a panel may lack one.
    every_method = list(dict.fromkeys(method for methods in results.values() for method in methods))
    colour = {method: f"C{i}" for i, method in enumerate(every_method)}
    for ax, (dataset, methods) in zip(axes[0], results.items()):
        for method, scores in methods.items():
            ks = sorted(int(k) for k in scores)
            means = np.array([scores[str(k)]["set_macro_f1"] for k in ks])
            sds = np.array([scores[str(k)]["set_macro_f1_sd"] for k in ks])
            if ks == [0]:
                ax.axhline(means[0], color="grey", linestyle="--", label=f"{method} (k = 0)")
                continue
            ax.errorbar(ks, means, yerr=sds, marker="o", capsize=3, label=method, color=colour[method])
        taught = sorted({int(k) for scores in methods.values() for k in scores} - {0})
        ax.set_xticks(taught)
        ax.set_xlim(0.5, max(taught, default=1) + 0.5)
        ax.set_title(dataset, fontsize=10)
        ax.set_xlabel("labelled sets per exercise (k)")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("set macro-F1 (mean ± sd)")
    axes[0][-1].legend(loc="lower right", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
