"""The pipeline's I/O around the classifier's set finder: a live step per batch of new frames,
and a final pass over the whole recording. Celery tasks (journal/tasks.py) call these; they can
be called directly too (tests, shell).

A live step locks the workouts, reads each one's tail (its samples from the first one a later
step may need: from the Redis stream, or the archive), hands it with the state stored on the
workout to `SetFinder.step` (classifier/set_finder.py: the algorithm, pure numpy), and stores
the sets (`set_changes.replace_machine_sets`), the new state and the cursor in one transaction.
No state lives in a worker, and a step costs the same in the first minute of a workout as in
its second hour. A step that dies before its commit leaves nothing behind; the next one does
the same work again.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from classifier.memory import ExerciseMemory
from classifier.set_finder import FoundSet, LiveState, SetFinder
from ingest.handoff import take_frames
from ingest.models import SAMPLE_DTYPE, Frame, Recording
from journal.athlete_memory import memories_for
from journal.models import PROBABILITY_DTYPE, ExerciseSet, Workout
from journal.row_updates import update_rows
from journal.serving import model_for
from journal.set_changes import SetWrites, replace_machine_sets, workout_of, workouts_of

log = logging.getLogger(__name__)


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
    streams = take_frames({workout.pk: workout.tail_frame for workout in workouts})
    return {workout.pk: _tail(workout.recording, workout.tail_frame, workout.tail_sample, streams[workout.pk])
            for workout in workouts}


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
        models = {}
        for workout in fresh:
            try:
                models[workout.pk] = model_for(workout.recording, workout)
            except LookupError as error:  # no model reads this recording's channels: its frames hold nothing to read
                log.warning("recording not processed", extra={"recording": str(workout.pk), "error": str(error)})
                # Passed over, so that its watch is never told to back off and its final pass comes.
                workout.processed_frames, workout.processed_samples = tails[workout.pk].next_frame, tails[workout.pk].end_sample
                workout.save(update_fields=["processed_frames", "processed_samples"])
        memories = memories_for({(w.owner_id, models[w.pk].card.versioned_name) for w in fresh if w.pk in models})
        writes = SetWrites()
        for workout in fresh:
            if (served := models.get(workout.pk)) is None:
                continue
            _step(workout, served, tails[workout.pk], sets[workout.pk], memories.get((workout.owner_id, served.card.versioned_name)),
                  writes)
            stepped.add(workout.pk)
        writes.apply()
        update_rows([w for w in workouts if w.pk in stepped], _STEP_FIELDS)
    return Steps({w.pk: w for w in workouts}, stepped, busy)


def live_step(recording_id: uuid.UUID) -> Workout | None:
    """`live_steps` for one recording: its workout, or None when there was nothing to step."""
    steps = live_steps([recording_id])
    return steps.workouts[recording_id] if recording_id in steps.stepped else None


# What a live step changes on its workout: written for the whole batch in one round trip
# (a `save()` each cost an eighth of a step; bulk_update's CASE per field costs more to build).
_STEP_FIELDS = ["tail_frame", "tail_sample", "processed_frames", "processed_samples", "duration_s", "probabilities",
                "segmenter", "model_path", "model_version", "sets_version", "finalized_at"]


def _step(workout: Workout, served, tail: Tail, existing: list[ExerciseSet], memory: ExerciseMemory | None,
          writes: SetWrites) -> None:
    """One recording's step inside `live_steps`: the classifier's live step on its tail (its sets
    named by the athlete's `memory`, if any), its sets' rows added to the batch's `writes`, its
    workout's `_STEP_FIELDS` updated in memory (`live_steps` writes both for the whole batch)."""
    recording, card = workout.recording, served.card
    counted = tuple(_as_found(s) for s in existing if s.source == ExerciseSet.Source.MACHINE)
    state = LiveState(workout.window_probabilities(len(card.labels)), workout.segmenter, counted)
    step = SetFinder.served(served, memory).step(state, recording.in_model_frame(tail.samples), tail.first_sample,
                                                 list(recording.channels), recording.rate_hz,
                                                 settle_s=settings.PIPELINE_SETTLE_SECONDS)
    replace_machine_sets(workout, step.sets, card.versioned_name, existing=existing, writes=writes)
    workout.tail_frame, workout.tail_sample = tail.frame_at(min(step.first_needed_sample, tail.end_sample))
    workout.processed_frames = tail.next_frame
    workout.processed_samples = tail.end_sample
    workout.duration_s = tail.end_sample / recording.rate_hz
    workout.probabilities = np.ascontiguousarray(step.state.probabilities, PROBABILITY_DTYPE).tobytes()
    workout.segmenter = step.state.segmenter
    workout.model_path, workout.model_version = str(served.folder), card.versioned_name
    # Frames after a final pass (the watch went quiet, then came back): the recording goes on, and
    # a final pass over all of it follows when it ends or goes quiet again.
    workout.finalized_at = None


def _as_found(stored: ExerciseSet) -> FoundSet:
    return FoundSet(stored.start_s, stored.end_s, stored.exercise_id, stored.confidence, stored.closed,
                    tuple(stored.rep_times_s), stored.detected_start_s, stored.learned_from, tuple(stored.suggestions),
                    stored.arm_still)


def final_pass(recording_id: uuid.UUID, *, active_model: bool = False) -> Workout:
    """Segment and count the whole recording from the archive, as `find_sets` and `bench sets-reps`
    do; with `active_model`, re-process it with the model active now (labelled sets stay)."""
    with transaction.atomic():
        workout, served = _locked(recording_id, active_model=active_model)
        recording = workout.recording
        samples, found = _analyze_archive(recording, served, workout.owner_id)
        replace_machine_sets(workout, found, served.card.versioned_name)
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
    _, found = _analyze_archive(recording, model_for(recording, Workout.objects.filter(pk=recording.pk).first()), recording.owner_id)
    return [(s.exercise, s.reps, round(float(s.start_s), 3), round(float(s.end_s), 3)) for s in found]


def _analyze_archive(recording: Recording, served, owner_id: int) -> tuple[np.ndarray, list[FoundSet]]:
    """The whole recording's sets, named by the athlete's memory where they have one."""
    samples = recording.read_samples()
    memory = memories_for({(owner_id, served.card.versioned_name)}).get((owner_id, served.card.versioned_name))
    return samples, SetFinder.served(served, memory).find(recording.in_model_frame(samples), list(recording.channels),
                                                          recording.rate_hz)
