"""Labels as data: labelled recordings travel as a folder in the uniform gym format —
sessions.csv, sets.csv, sessions/*.csv.gz — which `import_recording` reads back (a labeller's
save, `set_changes.save_labels`, of the folder's sets) and `train_classifier` learns from,
beside the shared gym datasets."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from django.contrib.auth import get_user_model
from django.utils import timezone

from classifier.gymformat import REST, GymRecording, load_gym_folder, write_gym_csv
from ingest.models import Device, Recording
from ingest.recordings import import_gym_recording
from journal.set_changes import LabelledSet, save_labels

DATASET = "journal-labels"
SESSION_COLUMNS = ["session_file", "dataset", "subject", "device", "sample_rate_hz", "recording_start_local",
                   "workout_date", "n_samples", "duration_s", "labelled_by", "labelled_at"]
SET_COLUMNS = ["session_file", "set_id", "exercise", "start_s", "end_s", "reps", "reps_source", "rep_starts_s"]


def _start_time(text: str) -> datetime:
    """ISO 8601, or the shared datasets' 2017-03-30T18-50-49; now when there is none."""
    for parse in (datetime.fromisoformat, lambda t: datetime.strptime(t, "%Y-%m-%dT%H-%M-%S")):
        try:
            started = parse(text)
        except ValueError:
            continue
        return started if timezone.is_aware(started) else timezone.make_aware(started)
    return timezone.now()


def labelled_recordings():
    return Recording.objects.filter(workout__labelled_at__isnull=False).select_related("owner", "device", "workout__labelled_by")


def session_file(recording: Recording) -> str:
    """Named by who and when, not by id: an imported recording gets a new id, and the name must
    survive export → import → export."""
    return f"sessions/{timezone.localtime(recording.started_at):%Y-%m-%dT%H-%M-%S}_{recording.owner.username}.csv.gz"


def export_labels(folder: Path, recordings) -> list[str]:
    """Write `recordings` (labelled ones) as a gym-format folder; returns the session files."""
    (folder / "sessions").mkdir(parents=True, exist_ok=True)
    sessions, set_rows = [], []
    for recording in recordings:
        workout = recording.workout
        name = session_file(recording)
        samples = recording.in_model_frame(recording.read_samples())  # what retraining fits is what the models read
        labels, set_ids = np.full(len(samples), REST, dtype=object), np.full(len(samples), -1)
        for set_id, s in enumerate(workout.sets.order_by("ordinal")):
            first, last = int(round(s.start_s * recording.rate_hz)), int(round(s.end_s * recording.rate_hz))
            labels[first:last], set_ids[first:last] = s.exercise_id, set_id
            set_rows.append([name, set_id, s.exercise_id, s.start_s, s.end_s, s.reps, "labelled",
                             ";".join(str(t) for t in s.rep_times_s)])
        write_gym_csv(folder / name, GymRecording(samples, list(recording.channels), recording.rate_hz, labels.astype(str), set_ids))
        sessions.append([name, DATASET, recording.owner.username, recording.device.name if recording.device else "",
                         recording.rate_hz, timezone.localtime(recording.started_at).isoformat(), workout.date.isoformat(),
                         len(samples), len(samples) / recording.rate_hz,
                         workout.labelled_by.username if workout.labelled_by else "", workout.labelled_at.isoformat()])
    pd.DataFrame(sessions, columns=SESSION_COLUMNS).to_csv(folder / "sessions.csv", index=False)
    pd.DataFrame(set_rows, columns=SET_COLUMNS).to_csv(folder / "sets.csv", index=False)
    return [row[0] for row in sessions]


def import_labels(folder: Path, *, owner, progress: bool = True) -> list[Recording]:
    """Every session of a gym-format folder becomes a recording of `owner`, processed like a
    streamed one, with the folder's sets as its labels (marked labelled when the folder says by
    whom, else by nobody)."""
    index = {Path(row["session_file"]).name.removesuffix(".gz").removesuffix(".csv"): row
             for row in pd.read_csv(folder / "sessions.csv", dtype=str).fillna("").to_dict("records")}
    users = get_user_model().objects
    imported = []
    for session in load_gym_folder(folder, progress=progress):
        row = index[session.name]
        started_at = _start_time(row.get("recording_start_local", ""))
        device = Device.objects.filter(owner=owner, name=row.get("device")).first() if row.get("device") else None
        # side="": the folder's samples are read as they are (export_labels writes the models' frame).
        recording, _ = import_gym_recording(session.recording, owner=owner, started_at=started_at, device=device, side="")
        labeller = users.filter(username=row.get("labelled_by")).first() if row.get("labelled_by") else None
        sets = [LabelledSet(s.exercise, s.start_s, s.end_s, s.reps or 0, s.rep_starts_s) for s in session.sets]
        labelled_at = datetime.fromisoformat(row["labelled_at"]) if row.get("labelled_at") else None
        save_labels(recording, sets, by=labeller, version=None, mark_labelled=True, labelled_at=labelled_at)
        imported.append(recording)
    return imported

