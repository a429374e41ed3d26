"""Which model reads a recording: the active ones (or the committed journal models), one per set
of channels, each loaded once per worker process."""

from __future__ import annotations

import functools
from pathlib import Path

from django.conf import settings

from ingest.models import Recording
from journal.models import ModelVersion, Workout


@functools.cache
def served_model(folder: str):
    """One LiteRT interpreter per model per worker process, loaded on first use (after the fork)."""
    from classifier.runtime import WindowClassifier

    return WindowClassifier(folder)


def model_for(recording: Recording, workout: Workout | None = None):
    """The workout's own model once it has one (a workout keeps the model it started with), else
    the active model that reads the most of the recording's channels. Without any active model,
    the artefacts in JOURNAL_MODEL_DIR (the committed journal models)."""
    if workout is not None and workout.model_path:
        return served_model(workout.model_path)
    return served_model(str(serving_folder(list(recording.channels))))


def serving_folder(channels: list[str]) -> Path:
    """The artefact a new recording with these channels gets now."""
    from classifier.runtime import choose_artifact

    return choose_artifact(serving_folders(), channels)


def serving_folders() -> list[Path]:
    """The artefacts new recordings get, one per set of channels: the active models, else the
    committed journal models."""
    folders = [Path(path) for path in ModelVersion.objects.filter(active=True).values_list("path", flat=True)]
    return folders or sorted(path for path in Path(settings.JOURNAL_MODEL_DIR).iterdir() if (path / "card.json").is_file())
