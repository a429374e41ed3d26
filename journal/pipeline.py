"""From a recording's samples to journal sets: a live step per batch of new frames, and a final
pass over the whole recording. Celery tasks (journal/tasks.py) call these; they can be called
directly too (tests, shell).

A live step reads the frames past the workout's cursor, classifies the windows they complete,
resumes the live segmenter from the state stored with the workout (so no state lives in a
worker, and a step costs the same in the first minute of a workout as in its second hour),
counts the open sets, and stores sets, segmenter state and cursor in one transaction. A step
that dies before its commit leaves nothing behind; the next one does the same work again.
"""

from __future__ import annotations

import functools
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from classifier.segmentation import LiveSegmenter, SegmentedSet
from classifier.signals import resample, select_channels
from classifier.workout import ExerciseSet as FoundSet
from classifier.windows import cut_windows
from classifier.workout import ModelInput, SetsConfig, analyze_recording, count_live_set
from config.redis import redis_client
from ingest.models import SAMPLE_DTYPE, Frame, Recording
from ingest.storage import stream_key
from journal.models import PROBABILITY_DTYPE, Exercise, ExerciseSet, ModelVersion, Workout
from journal.triggers import pending_key

log = logging.getLogger(__name__)


@functools.cache
def _served(folder: str):
    """One LiteRT interpreter per model per worker process, loaded on first use (after the fork)."""
    from classifier.runtime import WindowClassifier

    return WindowClassifier(folder)


def model_for(recording: Recording, workout: Workout | None = None):
    """The workout's own model once it has one (a workout keeps the model it started with), else
    the active model that reads the most of the recording's channels. Without any active model,
    the artefacts in JOURNAL_MODEL_DIR (the committed journal models)."""
    if workout is not None and workout.model_path:
        return _served(workout.model_path)
    return _served(str(serving_folder(list(recording.channels))))


def serving_folder(channels: list[str]) -> Path:
    """The artefact a new recording with these channels gets now."""
    from classifier.runtime import choose_artifact

    folders = [Path(path) for path in ModelVersion.objects.filter(active=True).values_list("path", flat=True)]
    if not folders:
        folders = sorted(path for path in Path(settings.JOURNAL_MODEL_DIR).iterdir() if (path / "card.json").is_file())
    return choose_artifact(folders, channels)


@dataclass(frozen=True)
class Tail:
    """The recording's samples from frame `first_frame` (sample `first_sample`) to the last stored frame."""

    first_frame: int
    first_sample: int
    samples: np.ndarray  # (samples, channels) at the recording's rate
    frame_sizes: list[int]  # samples per frame, from first_frame on

    @property
    def next_frame(self) -> int:
        return self.first_frame + len(self.frame_sizes)

    @property
    def end_sample(self) -> int:
        return self.first_sample + len(self.samples)

    def frame_at(self, sample: int) -> tuple[int, int]:
        """The frame holding `sample` (or the last before it) and the sample its data starts at."""
        starts = self.first_sample + np.concatenate([[0], np.cumsum(self.frame_sizes)[:-1]]).astype(int)
        k = max(0, int(np.searchsorted(starts, sample, side="right")) - 1) if self.frame_sizes else 0
        return (self.first_frame + k, int(starts[k])) if self.frame_sizes else (self.first_frame, self.first_sample)


def read_tails(workouts: list[Workout]) -> dict[uuid.UUID, Tail]:
    """Each workout's samples from its tail frame on: from the Redis Streams, in one round trip
    that first clears the recordings' pending flags (frames stored from then on queue another
    step); from the archive where a stream lacks any of those frames (trimmed, or lost in a
    Redis restart without its AOF). Both hold the same bytes."""
    with redis_client().pipeline(transaction=False) as pipe:
        for workout in workouts:
            pipe.delete(pending_key(workout.pk))
            pipe.xrange(stream_key(workout.pk), min=f"{workout.tail_frame}-1", max="+")
        streams = pipe.execute()[1::2]
    return {workout.pk: _tail(workout.recording, workout.tail_frame, workout.tail_sample, entries)
            for workout, entries in zip(workouts, streams)}


def _tail(recording: Recording, first_frame: int, first_sample: int, entries: list) -> Tail:
    n_channels = len(recording.channels)
    seqs = [int(entry_id.split(b"-")[0]) for entry_id, _ in entries]
    if seqs and seqs == list(range(first_frame, first_frame + len(seqs))):
        payloads = [fields[b"samples"] for _, fields in entries]
    else:
        rows = Frame.objects.filter(recording=recording, seq__gte=first_frame).order_by("seq").values_list("seq", "samples")
        payloads, expected = [], first_frame
        for seq, data in rows.iterator():
            if seq != expected:
                break  # a frame not stored yet; the watch re-sends it and a later step continues
            payloads.append(bytes(data))
            expected += 1
    chunks = [np.frombuffer(p, dtype=SAMPLE_DTYPE).reshape(-1, n_channels) for p in payloads]
    samples = np.concatenate(chunks) if chunks else np.empty((0, n_channels), SAMPLE_DTYPE)
    return Tail(first_frame, first_sample, samples, [len(c) for c in chunks])


def workouts_of(recording_ids: list[uuid.UUID], *, skip_locked: bool = False) -> list[Workout]:
    """The recordings' workouts with their recordings (one query once they exist), made on first
    use, locked until the transaction ends, in a fixed order (two batches never wait on each
    other in a cycle). A recording that does not exist has none; with `skip_locked`, neither has
    one whose workout another transaction holds (it is not waited for — except while that
    transaction is making the workout, at a recording's very first step)."""
    ids = sorted(set(recording_ids))
    found = {w.pk: w for w in Workout.objects.select_for_update(of=("self",), skip_locked=skip_locked)
             .select_related("recording").filter(pk__in=ids).order_by("pk")}
    for recording in Recording.objects.filter(id__in=[i for i in ids if i not in found], workout__isnull=True).order_by("id"):
        found[recording.id], _ = Workout.objects.select_for_update().get_or_create(
            recording=recording,
            defaults={"owner_id": recording.owner_id, "date": timezone.localdate(recording.started_at),
                      "started_at": recording.started_at},
        )
    return [found[i] for i in ids if i in found]


def workout_of(recording_id: uuid.UUID) -> Workout:
    """The recording's workout, as `workouts_of`. Raises Recording.DoesNotExist."""
    workouts = workouts_of([recording_id])
    if not workouts:
        raise Recording.DoesNotExist(f"no recording {recording_id}")
    return workouts[0]


def _locked(recording_id: uuid.UUID, *, active_model: bool = False):
    """The recording's workout, locked for this transaction, and the workout's model (or, with
    `active_model`, the one a new recording would get)."""
    workout = workout_of(recording_id)
    return workout, model_for(workout.recording, None if active_model else workout)


@dataclass
class Steps:
    workouts: dict[uuid.UUID, Workout]  # every one locked, as the steps left them, each with its `recording`
    stepped: set[uuid.UUID]  # those that had new frames and a model to read them
    busy: list[uuid.UUID]  # held by another step: not waited for, not stepped


def live_steps(recording_ids: list[uuid.UUID]) -> Steps:
    """Process the frames stored since each recording's last step, in one transaction: the
    workouts, their sets and their streams read in one query or round trip each. The workout's
    row lock is what keeps two steps of a recording apart; one held by another step is skipped
    (`busy`), not waited for. A recording that does not exist is in none of the three; one with
    no model for its channels is logged and not stepped."""
    with transaction.atomic():
        workouts = workouts_of(recording_ids, skip_locked=True)
        left_out = set(recording_ids) - {w.pk for w in workouts}  # held by another step, or no such recording
        busy = list(Workout.objects.filter(pk__in=left_out).values_list("pk", flat=True)) if left_out else []
        tails = read_tails(workouts)
        fresh = [w for w in workouts if tails[w.pk].next_frame > w.processed_frames]
        sets: dict[uuid.UUID, list[ExerciseSet]] = {w.pk: [] for w in fresh}
        for row in ExerciseSet.objects.filter(workout_id__in=list(sets)):
            sets[row.workout_id].append(row)
        stepped = set()
        for workout in fresh:
            try:
                served = model_for(workout.recording, workout)
            except LookupError as error:  # no model reads this recording's channels: its frames hold nothing to read
                log.warning("recording not processed", extra={"recording": str(workout.pk), "error": str(error)})
                # Passed over, so that its watch is never told to back off and its final pass comes.
                workout.processed_frames, workout.processed_samples = tails[workout.pk].next_frame, tails[workout.pk].end_sample
                workout.save(update_fields=["processed_frames", "processed_samples"])
                continue
            _step(workout, served, tails[workout.pk], sets[workout.pk])
            workout.save(update_fields=_STEP_FIELDS)  # bulk_update's CASE per field costs more to build than it saves
            stepped.add(workout.pk)
    return Steps({w.pk: w for w in workouts}, stepped, busy)


def live_step(recording_id: uuid.UUID) -> Workout | None:
    """`live_steps` for one recording: its workout, or None when there was nothing to step."""
    steps = live_steps([recording_id])
    return steps.workouts[recording_id] if recording_id in steps.stepped else None


_STEP_FIELDS = ["tail_frame", "tail_sample", "processed_frames", "processed_samples", "duration_s", "probabilities",
                "segmenter", "model_path", "model_version", "sets_version"]


def _step(workout: Workout, served, tail: Tail, existing: list[ExerciseSet]) -> None:
    """One recording's step inside `live_steps`: its sets stored, its workout's `_STEP_FIELDS`
    updated in memory (`live_steps` saves them)."""
    recording, card = workout.recording, served.card
    model = ModelInput.from_card(card)
    config = SetsConfig.from_dict(card.sets)
    ratio = card.rate_hz / recording.rate_hz
    probabilities = workout.window_probabilities(len(card.labels))
    segmenter = LiveSegmenter.resume(model.labels, model.timing, config.segmenter, probabilities, workout.segmenter)
    new = _new_windows(tail, recording, model, ratio, segmenter.windows_seen, settle_s=settings.PIPELINE_SETTLE_SECONDS)
    if len(new):
        segmenter.push(served.predict_proba(new))
    segmented = segmenter.sets()
    closed_by_machine = [s for s in existing if s.source == ExerciseSet.Source.MACHINE and s.closed]
    found = _count(segmented, segmenter.exercising_now(), closed_by_machine, segmenter.origin * model.timing.hop_s,
                   tail, recording, config)
    store_sets(workout, found, card.versioned_name, existing=existing)
    needed = _first_needed_sample(segmented, segmenter.decided_until, model, ratio)
    segmenter.forget_closed()  # stored now: a later step keeps their rows as they are
    workout.tail_frame, workout.tail_sample = tail.frame_at(min(needed, tail.end_sample))
    workout.processed_frames = tail.next_frame
    workout.processed_samples = tail.end_sample
    workout.duration_s = tail.end_sample / recording.rate_hz
    workout.probabilities = np.ascontiguousarray(segmenter.probabilities, PROBABILITY_DTYPE).tobytes()
    workout.segmenter = segmenter.state()
    workout.model_path, workout.model_version = str(served.folder), card.versioned_name


def _new_windows(tail: Tail, recording: Recording, model: ModelInput, ratio: float, done: int, *, settle_s: float) -> np.ndarray:
    """Windows `done`, `done`+1, … that lie wholly in the samples received, less the last
    `settle_s` (resampling needs a little of what comes after a window). Window k starts at
    sample k·hop of the model's rate: the same windows whatever the frames' sizes."""
    at_model_rate = resample(select_channels(tail.samples, list(recording.channels), model.channels).astype(np.float32),
                             recording.rate_hz, model.rate_hz)
    offset = int(round(tail.first_sample * ratio))
    usable = offset + len(at_model_rate) - int(round(settle_s * model.rate_hz))
    first = done * model.hop - offset
    if first < 0:  # the tail always starts a window before anything still to classify
        raise RuntimeError(f"window {done} starts before the tail kept for it (sample {tail.first_sample})")
    return cut_windows(at_model_rate[first:max(first, usable - offset)], model.window, model.hop)


def _count(segmented: list[SegmentedSet], ongoing: bool, closed_sets: list[ExerciseSet], origin_s: float, tail: Tail,
           recording: Recording, config: SetsConfig) -> list[tuple[FoundSet, float]]:
    """Every set counted, with where the windows put its start. A closed set already stored is
    kept as it is: nothing can change it, and its samples may have left the tail. Those before
    `origin_s`, which the segmenter has let go of, are kept without it (a final pass's sets have
    no detected start: a live step after it, when the watch came back, counts afresh)."""
    stored = {s.detected_start_s: s for s in closed_sets}
    found = [(_as_found(s, s.exercise_id), s.detected_start_s) for s in closed_sets
             if s.detected_start_s is not None and s.detected_start_s < origin_s]
    for s in segmented:
        kept = stored.get(round(s.start_s, 3)) if s.closed else None
        if kept is not None:
            found.append((_as_found(kept, s.exercise), s.start_s))
        else:
            found.append((count_live_set(tail.samples, list(recording.channels), recording.rate_hz, s, config.reps,
                                         ongoing=ongoing, offset_s=tail.first_sample / recording.rate_hz), s.start_s))
    return found


def _as_found(stored: ExerciseSet, exercise: str) -> FoundSet:
    return FoundSet(stored.start_s, stored.end_s, exercise, stored.confidence, True, tuple(stored.rep_times_s))


def _first_needed_sample(segmented: list[SegmentedSet], decided_until: int, model: ModelInput, ratio: float) -> int:
    """The earliest sample a later step may still need: the start of the first set not yet closed,
    or of the first window not yet decided, less a window for resampling's sake."""
    open_starts = [s.start_s for s in segmented if not s.closed]
    first_s = min(open_starts + [decided_until * model.timing.hop_s]) - model.timing.window_s
    return max(0, int(first_s * model.rate_hz / ratio))


def final_pass(recording_id: uuid.UUID, *, active_model: bool = False) -> Workout:
    """Segment and count the whole recording from the archive, as `find_sets` and `bench sets-reps`
    do; with `active_model`, re-process it with the model active now (labelled sets stay)."""
    with transaction.atomic():
        workout, served = _locked(recording_id, active_model=active_model)
        recording = workout.recording
        samples, found = _analyze_archive(recording, served)
        store_sets(workout, [(f, None) for f in found], served.card.versioned_name)
        workout.duration_s = len(samples) / recording.rate_hz
        if workout.model_path != str(served.folder):
            workout.forget_live_state()
        workout.model_path, workout.model_version = str(served.folder), served.card.versioned_name
        workout.finalized_at = timezone.now()
        workout.save()
    return workout


def offline_sets(recording: Recording) -> list[tuple]:
    """(exercise, reps, start_s, end_s) of every set the offline analysis finds in the archived
    recording with the workout's model, rounded as the journal stores them: what the final pass
    must have stored."""
    _, found = _analyze_archive(recording, model_for(recording, Workout.objects.filter(pk=recording.pk).first()))
    return [(s.exercise, s.reps, round(float(s.start_s), 3), round(float(s.end_s), 3)) for s in found]


def _analyze_archive(recording: Recording, served) -> tuple[np.ndarray, list[FoundSet]]:
    samples = recording.read_samples()
    card = served.card
    return samples, analyze_recording(samples, list(recording.channels), recording.rate_hz, ModelInput.from_card(card),
                                      served.predict_proba, SetsConfig.from_dict(card.sets))


def store_sets(workout: Workout, found: list[tuple[FoundSet, float | None]], version: str, *,
               existing: list[ExerciseSet] | None = None) -> None:
    """The workout's sets become the labelled ones plus the machine's that overlap none of them
    nor a span a person deleted sets from, numbered in time order. Each found set comes with its detected start (None from the final
    pass; `existing`, the workout's rows when the caller has them). Rows that did not change are
    not written: most steps only grow the open set. Inside the caller's transaction, which saves
    the workout (its `sets_version` grows when anything changed)."""
    existing = list(workout.sets.all()) if existing is None else existing
    labelled = [s for s in existing if s.source == ExerciseSet.Source.LABELLED]
    machine = [(f, detected) for f, detected in found
               if workout.labelled_at is None  # a person marked every set right
               and not any(f.start_s < s.end_s and s.start_s < f.end_s for s in labelled)
               and not workout.overlaps_dismissed(f.start_s, f.end_s)]
    ordered = sorted([(s.start_s, s, None) for s in labelled] + [(f.start_s, f, detected) for f, detected in machine],
                     key=lambda row: row[0])
    wanted = []
    changed = False
    for ordinal, (_, item, detected) in enumerate(ordered):
        if isinstance(item, ExerciseSet):
            if item.ordinal != ordinal:
                item.ordinal = ordinal
                item.save(update_fields=["ordinal"])
                changed = True
            continue
        wanted.append(workout.new_set(
            ordinal=ordinal, exercise_id=item.exercise, start_s=round(item.start_s, 3),
            detected_start_s=None if detected is None else round(detected, 3),
            end_s=round(item.end_s, 3), reps=item.reps, rep_times_s=[round(t, 3) for t in item.rep_times_s],
            confidence=item.confidence, closed=item.closed, source=ExerciseSet.Source.MACHINE, model_version=version,
        ))
    stored = {_row_key(s): s for s in existing if s.source == ExerciseSet.Source.MACHINE}
    unchanged = {_row_key(s) for s in wanted} & stored.keys()
    stale = {s.ordinal: s for key, s in stored.items() if key not in unchanged}
    fresh = [s for s in wanted if _row_key(s) not in unchanged]
    # A set that changed in its place keeps its row and id (the open set, growing step by step).
    updated = []
    for s in fresh:
        if (old := stale.pop(s.ordinal, None)) is not None:
            s.pk = old.pk
            updated.append(s)
    inserted = [s for s in fresh if s.pk is None]
    Exercise.ensure({s.exercise_id for s in fresh} - {s.exercise_id for s in existing})  # a query only for a new one
    if stale:
        ExerciseSet.objects.filter(pk__in=[s.pk for s in stale.values()]).delete()
    for s in updated:  # one plain UPDATE each (usually one): bulk_update's CASE costs more to build
        ExerciseSet.objects.filter(pk=s.pk).update(**{field: getattr(s, field) for field in _MACHINE_FIELDS})
    if inserted:
        ExerciseSet.objects.bulk_create(inserted)
    if changed or stale or fresh:
        workout.sets_version += 1  # the caller saves the workout


_MACHINE_FIELDS = ["exercise_id", "start_s", "detected_start_s", "end_s", "reps", "rep_times_s", "confidence", "closed",
                   "source", "model_version"]


def _row_key(s: ExerciseSet) -> tuple:
    return (s.ordinal, s.exercise_id, s.start_s, s.end_s, s.detected_start_s, s.reps, tuple(s.rep_times_s), s.confidence,
            s.closed, s.model_version)
