"""Training, export and serving: a small real model, trained for a few epochs on real data."""

import json

import keras
import numpy as np
import pandas as pd
import pytest

from classifier.set_finder import ModelInput
from classifier.card import CARD, KERAS_FILE, TFLITE_FILE, ModelCard
from bench.classifier import bench_inference
from classifier.channels import ACC, GYRO
from classifier.gymformat import load_gym_folder
from classifier.architectures import ARCHITECTURES, build
from classifier.recipes import GymRecipe, journal_model_dirs
from classifier.runtime import WindowClassifier, choose_artifact
from classifier.training import TrainingConfig, supervised_contrastive, train
from classifier.workflows import TrainingData, evaluate_artifact, train_evaluate_export
from tests.conftest import shared_data

BARBELL = shared_data("gym/barbell_metamotion")


@pytest.fixture(scope="module")
def lifts():
    sessions = [s for s in load_gym_folder(BARBELL, progress=False) if s.subject[-1] in "CD"]
    return GymRecipe(channels=GYRO, hop=50).windows(sessions, exclude=("rest",))


@pytest.fixture(scope="module")
def artefact(lifts, tmp_path_factory):
    out = tmp_path_factory.mktemp("models") / "lifts-gyro"
    summary = train_evaluate_export(
        TrainingData("barbell C+D", lifts, None, 25), split="loso", config=TrainingConfig(arch="res_cnn", epochs=2),
        seeds=[0], out=out, progress=False,
    )
    return out, summary


def test_every_architecture_builds_and_standardises_inside_the_model(lifts):
    for arch in ARCHITECTURES:
        model = build(arch, lifts.X, len(lifts.labels))
        assert model.output_shape == (None, len(lifts.labels))
        standardized = model.get_layer("standardize")(lifts.X[:256])
        assert abs(float(keras.ops.mean(standardized))) < 0.5


def test_the_same_seed_trains_the_same_model(lifts):
    config = TrainingConfig(arch="cnn_tutorial", epochs=1)
    first, second = (train(lifts, config, seed=7, progress=False) for _ in range(2))
    np.testing.assert_allclose(first.model.predict(lifts.X[:64], verbose=0), second.model.predict(lifts.X[:64], verbose=0), atol=1e-5)


def test_without_early_stopping_every_window_is_fitted_for_every_epoch(lifts):
    trained = train(lifts, TrainingConfig(arch="cnn_tutorial", epochs=2, early_stopping=False), seed=0, progress=False)
    assert len(trained.history["loss"]) == 2 and "val_loss" not in trained.history


def test_the_contrastive_loss_is_lowest_where_each_exercise_lies_together():
    labels = np.array([0, 0, 1, 1])
    together = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], np.float32)
    mixed = np.array([[1, 0], [0, 1], [1, 0], [0, 1]], np.float32)
    def loss(embeddings, labels=labels):
        return keras.ops.convert_to_numpy(supervised_contrastive(labels, embeddings, temperature=0.1))

    assert loss(together).max() < 0.01 < 1 < loss(mixed).min()
    assert loss(together[:3], labels[:3])[2] == 0  # alone of its class in the batch: no positive, no loss


def test_a_contrastive_weight_trains_the_same_single_output_model_beside_a_second_loss(lifts):
    trained = train(lifts, TrainingConfig(arch="res_cnn", epochs=1, contrastive=0.5), seed=0, progress=False)
    assert trained.model.output_shape == (None, len(lifts.labels))  # what is exported and served is unchanged
    assert {"loss", "accuracy", "embedding_loss", "val_accuracy"} <= set(trained.history)


def test_an_artefact_has_model_tflite_and_a_full_card(artefact, lifts):
    folder, summary = artefact
    assert {p.name for p in folder.iterdir()} >= {KERAS_FILE, TFLITE_FILE, CARD, "evaluation"}
    card = ModelCard.load(folder)
    assert card.labels == lifts.labels and card.channels == list(GYRO)
    assert (card.rate_hz, card.window, card.hop) == (25.0, 100, 25)
    assert len(card.normalization["mean"]) == 3 and all(s > 0 for s in card.normalization["std"])
    assert card.split == "loso" and card.training_data["subjects"] == ["barbell_metamotion/C", "barbell_metamotion/D"]
    assert card.training_data["recipe"] | {"arch": "res_cnn", "epochs": 2, "mirror_arms": True} == card.training_data["recipe"]
    assert card.metrics["accuracy_mean"] == summary["accuracy_mean"]
    assert 0 <= card.metrics["other_arm"]["macro_f1_mean"] <= 1  # the held-out people as if the band were on their other wrist
    report = json.loads((folder / "evaluation" / "report.json").read_text())
    assert {"accuracy_mean", "macro_f1_mean", "per_seed", "confusion_summed", "sets", "other_arm"} <= set(report)
    assert (folder / "evaluation" / "confusion.png").stat().st_size > 5000
    assert (folder / "evaluation" / "curves.png").stat().st_size > 5000


def test_litert_serves_what_keras_predicts(artefact, lifts):
    folder, _ = artefact
    model = keras.saving.load_model(folder / KERAS_FILE)
    served = WindowClassifier(folder)
    expected = model.predict(lifts.X, verbose=0)
    np.testing.assert_allclose(served.predict_proba(lifts.X), expected, atol=1e-4)
    np.testing.assert_allclose(served.predict_proba(lifts.X[:1]), expected[:1], atol=1e-4)  # batch size changes
    np.testing.assert_allclose(served.predict_proba(lifts.X[3:40]), expected[3:40], atol=1e-4)
    assert served.predict_proba(lifts.X[:0]).shape == (0, len(lifts.labels))
    with pytest.raises(ValueError, match=r"windows must have shape \(n, 100, 3\)"):
        served.predict_proba(lifts.X[:, :50])


def test_litert_serves_the_embedding_with_the_probabilities_in_one_call(artefact, lifts):
    """The layer before the output, what an athlete's memory learns from (classifier/memory.py),
    and the output layer's weights, from which the probabilities follow."""
    folder, _ = artefact
    model = keras.saving.load_model(folder / KERAS_FILE)
    served = WindowClassifier(folder)
    prediction = served.predict(lifts.X)
    expected = keras.Model(model.inputs, model.layers[-1].input).predict(lifts.X, verbose=0)
    assert prediction.embeddings.shape == expected.shape == (len(lifts), 192)
    np.testing.assert_allclose(prediction.embeddings, expected, atol=1e-4)
    head = served.head
    logits = prediction.embeddings @ head.kernel + head.bias
    np.testing.assert_allclose(prediction.probabilities, keras.ops.softmax(logits).numpy(), atol=1e-5)
    assert served.predict(lifts.X[:0]).embeddings.shape == (0, 192)
    # Exemplars of each class it learned, as it embeds them (what a memory fits beside an athlete's windows).
    assert sorted(set(head.exemplar_classes.tolist())) == list(range(len(lifts.labels)))
    per_class = np.bincount(head.exemplar_classes)
    assert per_class.max() == 32 and per_class.min() > 0 and head.exemplars.shape[1] == 192  # 32, or every window of a rarer class


def test_a_raw_recording_is_windowed_the_way_the_model_reads_it(artefact):
    folder, _ = artefact
    served = WindowClassifier(folder)
    samples = np.random.default_rng(0).normal(size=(500, 6)).astype(np.float32)  # 10 s at 50 Hz, acc + gyro
    model = ModelInput.from_card(served.card)
    windows = model.windows(samples, list(ACC + GYRO), 50)
    assert windows.shape == (7, 100, 3)  # 250 samples at 25 Hz, a 100-sample window every 25
    with pytest.raises(ValueError, match="the recording has no gyr_x"):
        model.windows(samples[:, :3], list(ACC), 50)


def test_the_committed_journal_models_are_small_and_picked_by_channels():
    gyro_only, both = journal_model_dirs()
    for folder in (gyro_only, both):
        card = ModelCard.load(folder)
        assert "rest" in card.labels and len(card.labels) > 10
        assert sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) < 5_000_000
        served = WindowClassifier(folder)
        windows = np.zeros((4, card.window, len(card.channels)), np.float32)
        np.testing.assert_allclose(served.predict_proba(windows).sum(axis=1), 1, atol=1e-5)
    assert ModelCard.load(gyro_only).channels == list(GYRO)
    assert choose_artifact([gyro_only, both], list(GYRO)) == gyro_only
    assert choose_artifact([gyro_only, both], list(ACC + GYRO)) == both
    with pytest.raises(LookupError, match="no model reads a recording with only acc_x"):
        choose_artifact([gyro_only, both], list(ACC))


def test_the_inference_benchmark_reports_both_runtimes_on_the_served_model():
    results = bench_inference(journal_model_dirs()[0], batch=256)
    assert results["model"] == "journal-gyro" and results["window"] == [100, 3]
    assert results["litert_vs_keras_max_abs_diff"] < 1e-4
    assert all(results[key] > 0 for key in ("litert_windows_per_s", "litert_single_window_ms", "keras_predict_single_window_ms"))


def test_evaluating_on_data_with_none_of_the_models_classes_says_so(artefact, tmp_path):
    folder, _ = artefact
    index = pd.read_csv(BARBELL / "sessions.csv")
    rest = index[index.session_file.str.contains("rest")]
    (tmp_path / "sessions").mkdir()
    for name in rest.session_file:
        (tmp_path / name).symlink_to(BARBELL / name)
    rest.to_csv(tmp_path / "sessions.csv", index=False)
    with pytest.raises(ValueError, match=r"none of the labels in .* \(rest\) is a class of the model"):
        evaluate_artifact(folder, tmp_path, progress=False)
