"""Labels as data. A labeller's save replaces a recording's sets with the person's (never losing
a concurrent change silently), and labelled recordings travel as a folder in the uniform gym
format — sessions.csv, sets.csv, sessions/*.csv.gz — which `import_recording` reads back and
`train_classifier` learns from, beside the shared gym datasets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from classifier.gymformat import REST, GymRecording, load_gym_folder, write_gym_csv
from ingest.models import Device, Recording
from ingest.recordings import import_gym_recording
from journal.models import Exercise, ExerciseSet, Workout
from journal.pipeline import workout_of

DATASET = "journal-labels"
SESSION_COLUMNS = ["session_file", "dataset", "subject", "device", "sample_rate_hz", "recording_start_local",
                   "workout_date", "n_samples", "duration_s", "labelled_by", "labelled_at"]
SET_COLUMNS = ["session_file", "set_id", "exercise", "start_s", "end_s", "reps", "reps_source", "rep_starts_s"]


@dataclass(frozen=True)
class LabelledSet:
    exercise: str
    start_s: float
    end_s: float
    reps: int
    rep_times_s: tuple[float, ...] = ()
    id: int | None = None  # the stored set it edits; None for a set the labeller drew


class LabelConflict(Exception):
    """The sets changed since the labeller loaded them (another labeller, the athlete, the pipeline)."""

    def __init__(self, workout: Workout):
        super().__init__(f"the sets changed since you loaded them "
                         f"(at {timezone.localtime(workout.updated_at):%H:%M:%S}); reload to see the change, then redo yours")
        self.current_version = workout.sets_version


LABELLED = ExerciseSet.Source.LABELLED
_LABEL_FIELDS = ["exercise_id", "start_s", "end_s", "reps", "rep_times_s"]


@transaction.atomic
def save_labels(recording: Recording, sets: list[LabelledSet], *, by, version: int | None, mark_labelled: bool,
                labelled_at: datetime | None = None) -> Workout:
    """The recording's sets become `sets`. A set that names a stored one (`id`; without an id, as
    from a labelled folder imported again, the stored set of the very same span) edits it in
    place: what the labeller did not change — the athlete's weight and notes, the source, the
    confidence of a set left as it was — stays. Changed and new sets become labels by `by`; the
    spans of sets removed are dismissed where nothing kept covers them (the machine puts none
    back). `version` is the `sets_version` the labeller saw: any other is a conflict.
    `mark_labelled` says every set is right (who, and when: now unless `labelled_at` says
    otherwise, as an imported folder does), so the machine's sets left as they were become
    labels too."""
    workout = workout_of(recording.id)
    if version is not None and version != workout.sets_version:
        raise LabelConflict(workout)
    ordered = sorted(sets, key=lambda s: s.start_s)
    for before, after in zip(ordered, ordered[1:]):
        if after.start_s < before.end_s:
            raise ValueError(f"sets overlap at {after.start_s:.1f} s: a moment belongs to one set at most")
    stored = {row.pk: row for row in workout.sets.all()}
    rows, changed = [], []
    for ordinal, s in enumerate(ordered):
        values = _label_values(s.exercise, s.start_s, s.end_s, s.reps, s.rep_times_s)
        # popped: a second set naming the same id is a new one
        row = stored.pop(s.id if s.id is not None else _same_span(stored, values), None)
        if row is None:
            row = workout.new_set(**values, confidence=1.0, closed=True, source=LABELLED, labelled_by=by,
                                  model_version=workout.model_version)
        elif _label_values(row.exercise_id, row.start_s, row.end_s, row.reps, row.rep_times_s) != values or \
                (mark_labelled and row.source != LABELLED):  # edited, or confirmed as the machine found it
            for field, value in values.items():
                setattr(row, field, value)
            row.source, row.closed, row.labelled_by = LABELLED, True, by
        elif row.ordinal == ordinal:
            rows.append(row)
            continue  # as it was: not written
        row.ordinal = ordinal
        rows.append(row)
        changed.append(row)
    removed = list(stored.values())
    workout.dismissed = [*workout.dismissed, *([r.start_s, r.end_s] for r in removed
                                               if not any(k.start_s < r.end_s and r.start_s < k.end_s for k in rows))]
    ExerciseSet.objects.filter(pk__in=[r.pk for r in removed]).delete()
    Exercise.ensure({s.exercise for s in ordered})
    for row in changed:  # the ordinals' uniqueness is checked at commit
        if row.pk is None:
            row.save()
        else:
            row.save(update_fields=["ordinal", *_LABEL_FIELDS, "source", "closed", "labelled_by", "updated_at"])
    workout.sets_version += 1
    if mark_labelled:
        workout.labelled_by, workout.labelled_at = by, labelled_at or timezone.now()
    workout.save()
    return workout


def _label_values(exercise: str, start_s: float, end_s: float, reps: int, rep_times_s) -> dict:
    """What a labeller edits of a set, rounded as a save stores it (a stored set a split left with
    more decimals compares equal)."""
    return {"exercise_id": exercise, "start_s": round(start_s, 3), "end_s": round(end_s, 3), "reps": reps,
            "rep_times_s": [round(t, 3) for t in rep_times_s]}


def _same_span(stored: dict[int, ExerciseSet], values: dict) -> int | None:
    return next((pk for pk, row in stored.items()
                 if (round(row.start_s, 3), round(row.end_s, 3)) == (values["start_s"], values["end_s"])), None)


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
        samples = recording.read_samples()
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
        recording, _ = import_gym_recording(session.recording, owner=owner, started_at=started_at, device=device)
        labeller = users.filter(username=row.get("labelled_by")).first() if row.get("labelled_by") else None
        sets = [LabelledSet(s.exercise, s.start_s, s.end_s, s.reps or 0, s.rep_starts_s) for s in session.sets]
        labelled_at = datetime.fromisoformat(row["labelled_at"]) if row.get("labelled_at") else None
        save_labels(recording, sets, by=labeller, version=None, mark_labelled=True, labelled_at=labelled_at)
        imported.append(recording)
    return imported

