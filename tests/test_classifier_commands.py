"""The management commands around the classifier, as a user runs them."""

import json

import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from tests.conftest import shared_data

BARBELL = shared_data("gym/barbell_metamotion")


@pytest.fixture
def small_gym_folder(tmp_path):
    """A user's own folder in the gym format: two people's squats and bench presses."""
    index = pd.read_csv(BARBELL / "sessions.csv")
    chosen = index[index.subject.isin(["C", "D"]) & index.session_file.str.contains("squat|bench")]
    (tmp_path / "sessions").mkdir()
    for name in chosen.session_file:
        (tmp_path / name).symlink_to(BARBELL / name)
    chosen.to_csv(tmp_path / "sessions.csv", index=False)
    return tmp_path


def test_train_then_evaluate_on_another_folder(small_gym_folder, tmp_path, capsys):
    out = tmp_path / "models" / "mine"
    call_command("train_classifier", "--data", str(small_gym_folder), "--arch", "cnn_tutorial", "--epochs", "2",
                 "--seeds", "1", "--channels", "gyro", "--out", str(out), verbosity=0)
    printed = capsys.readouterr().out
    assert "cnn_tutorial on" in printed and "(loso split), 1 seed(s)" in printed and "← predicted" in printed
    assert (out / "model.tflite").is_file() and (out / "evaluation" / "confusion.png").is_file()

    results = tmp_path / "eval.json"
    call_command("evaluate_classifier", "--model", str(out), "--data", str(BARBELL), "--json", str(results), verbosity=0)
    scores = json.loads(results.read_text())
    assert {"accuracy", "macro_f1", "per_class", "confusion"} <= set(scores)
    assert set(scores["per_class"]) == {"bench_press", "squat"}
    # The other lifts and rest are not the model's classes: counted and left out, not misgraded.
    assert set(scores["skipped_unknown_labels"]) == {"barbell_row", "deadlift", "overhead_press", "rest"}
    assert sum(map(sum, scores["confusion"])) == scores["windows"] > 0


def test_bad_inputs_get_clear_errors(tmp_path):
    with pytest.raises(CommandError, match="is not a gym-format folder: it has no sessions.csv"):
        call_command("train_classifier", "--data", str(tmp_path), verbosity=0)
    with pytest.raises(CommandError, match="has no official split"):
        call_command("train_classifier", "--data", str(BARBELL), "--split", "official", "--epochs", "1", verbosity=0)
    with pytest.raises(CommandError, match="is not a model artefact: it has no card.json"):
        call_command("evaluate_classifier", "--model", str(tmp_path), "--data", str(BARBELL), verbosity=0)
    with pytest.raises(CommandError, match="--from-labels keeps early stopping"):
        call_command("train_classifier", "--from-labels", "--no-early-stopping", verbosity=0)
