"""Each athlete's exercise memory (classifier/memory.py) in the journal: rebuilt in the background
from the athlete's labelled sets whenever they change (a correction on the workout page, a save on
the labelling page, an imported labelled folder, a deletion), one per model that serves new
recordings (each reads its own embedding), and handed to the pipeline with the athlete's
recordings. An athlete's labels teach only that athlete's memory."""

from __future__ import annotations

import logging
from collections import defaultdict

import numpy as np
from celery import current_app
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from classifier.memory import ExerciseMemory, teach
from classifier.segmentation import REST, UNKNOWN
from classifier.set_finder import ModelInput
from config.redis import redis_client
from journal.models import AthleteMemory, ExerciseSet
from journal.serving import served_model, serving_folders

log = logging.getLogger(__name__)

GAIN_SETS = 20  # the newest labelled sets the staff view's leave-one-set-out gain is measured on
BURST_SECONDS = 1  # a rebuild waits this long for more changes of the same athlete
PENDING_SECONDS = 600  # a pending flag whose rebuild never ran (a lost task) expires
TEACHING_SETS = 20  # the athlete's newest labelled sets of each exercise that teach: a rebuild's cost stays bounded
_LOCK_SPACE = 18  # pg_advisory_xact_lock's first key: the athletes' memories


def labels_changed(owner_id: int) -> None:
    """Queue a rebuild of the athlete's memory once the caller's transaction commits: one for a
    burst of changes (an imported folder saves a recording's labels at a time), flagged in Redis
    until the rebuild starts reading the labels, so that a change after that queues another."""
    transaction.on_commit(lambda: _queue_rebuild(owner_id))


def workout_deleted(sender, instance, **kwargs) -> None:
    """A workout about to go with its recording (deleted from a shell, an athlete's account removed):
    its labels stop teaching. Its sets go by the database's cascade, past set_changes.py."""
    if instance.sets.filter(source=ExerciseSet.Source.LABELLED, teaches=True).exists():
        labels_changed(instance.owner_id)


def _queue_rebuild(owner_id: int) -> None:
    client = redis_client()
    try:
        if client.set(_pending_key(owner_id), 1, nx=True, ex=PENDING_SECONDS):
            try:
                # By name: journal.tasks imports this module.
                current_app.send_task("journal.tasks.rebuild_memory", args=(owner_id,), countdown=BURST_SECONDS)
            except Exception:
                client.delete(_pending_key(owner_id))  # the next change queues it again
                raise
    except Exception:  # Redis or the broker away: the change is saved; the memory follows the athlete's next one
        log.warning("memory rebuild not queued", exc_info=True, extra={"owner": owner_id})


def rebuild_started(owner_id: int) -> None:
    """Clear the athlete's pending flag: labels changed from now on queue another rebuild."""
    redis_client().delete(_pending_key(owner_id))


def _pending_key(owner_id: int) -> str:
    return f"memory:pending:{owner_id}"


def rebuild(owner_id: int) -> list[AthleteMemory]:
    """The athlete's memories rebuilt from their labelled sets now, for every model serving new
    recordings; a model none of their labelled recordings can be read by keeps no memory."""
    with transaction.atomic():
        _lock(owner_id)
        return [row for folder in serving_folders() if (row := _rebuild_one(owner_id, served_model(str(folder)))) is not None]


def _lock(owner_id: int) -> None:
    """Hold the athlete's memory until the transaction ends: two rebuilds, or a rebuild and a
    reset, one after the other, the later one reading the labels as the earlier left them."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_SPACE, owner_id])


def _rebuild_one(owner_id: int, served) -> AthleteMemory | None:
    """The athlete's memory for one served model, or None (and none stored) when it has no
    embedding or none of their labelled sets can be read by it."""
    name = served.card.versioned_name
    windows, names, set_ids = labelled_windows(owner_id, served.card) if served.head is not None else ([], [], [])
    if not len(windows):
        AthleteMemory.objects.filter(owner_id=owner_id, model_version=name).delete()
        return None
    memory = teach(served.card.labels, served.head, served.predict(windows).embeddings, names, set_ids)
    row, created = AthleteMemory.objects.get_or_create(
        owner_id=owner_id, model_version=name, defaults={"data": memory.to_bytes(), "sets_taught": memory.sets_taught})
    if not created:
        AthleteMemory.objects.filter(pk=row.pk).update(data=memory.to_bytes(), sets_taught=memory.sets_taught,
                                                       version=F("version") + 1, built_at=timezone.now())
        row.refresh_from_db()
    log.info("athlete memory rebuilt", extra={"owner": owner_id, "model": name, "sets": sum(memory.sets_taught.values())})
    return row


def reset(owner_id: int) -> None:
    """The athlete's memories forgotten, and their labelled sets so far no longer teach: it starts
    again from the sets they label from now on (their labels stay labels)."""
    with transaction.atomic():
        _lock(owner_id)
        ExerciseSet.objects.filter(owner_id=owner_id, source=ExerciseSet.Source.LABELLED).update(teaches=False)
        AthleteMemory.objects.filter(owner_id=owner_id).delete()


def labelled_windows(owner_id: int, card) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The windows of the athlete's newest labelled sets (TEACHING_SETS of each exercise) the model
    can read, with each one's exercise and set."""
    model = ModelInput.from_card(card)
    by_workout, per_exercise = defaultdict(list), defaultdict(int)
    labelled = (ExerciseSet.objects.filter(owner_id=owner_id, source=ExerciseSet.Source.LABELLED, teaches=True)
                .exclude(exercise_id__in=(UNKNOWN, REST)).select_related("workout__recording")
                .order_by("-workout__started_at", "start_s"))
    for row in labelled:
        if set(model.channels) <= set(row.workout.recording.channels) and per_exercise[row.exercise_id] < TEACHING_SETS:
            per_exercise[row.exercise_id] += 1
            by_workout[row.workout_id].append(row)
    windows, names, set_ids = [], [], []
    for rows in by_workout.values():
        recording = rows[0].workout.recording
        samples = recording.in_model_frame(recording.read_samples())
        for row in rows:
            cut = model.windows(samples[int(row.start_s * recording.rate_hz):int(np.ceil(row.end_s * recording.rate_hz))],
                                list(recording.channels), recording.rate_hz)
            windows.append(cut)
            names += [row.exercise_id] * len(cut)
            set_ids += [row.pk] * len(cut)
    if not windows:
        return np.empty((0, model.window, len(model.channels)), np.float32), np.array([], str), np.array([], int)
    return np.concatenate(windows), np.array(names), np.array(set_ids)


def measure_gain(owner_id: int) -> None:
    """Each of the athlete's memories' gain (`gain`), stored on it: a few seconds per set, so a
    worker of the training queue does it after the rebuild, and the pipeline never waits for it."""
    memories = {row.model_version: row for row in AthleteMemory.objects.filter(owner_id=owner_id).defer("data")}
    for folder in serving_folders():
        served = served_model(str(folder))
        if (row := memories.get(served.card.versioned_name)) is None or served.head is None:
            continue
        windows, names, set_ids = labelled_windows(owner_id, served.card)
        if len(windows):
            AthleteMemory.objects.filter(pk=row.pk).update(gain=gain(served, served.predict(windows), names, set_ids))


def gain(served, prediction, names: np.ndarray, set_ids: np.ndarray) -> dict:
    """The newest GAIN_SETS labelled sets, each named by the memory taught without it and by the
    general model: how often each is right (what the staff view shows)."""
    labels = served.card.labels
    exercises = [i for i, label in enumerate(labels) if label != REST]
    newest = sorted(set(set_ids.tolist()))[-GAIN_SETS:]
    memory_right = general_right = 0
    for set_id in newest:
        held_out = set_ids == set_id
        memory = teach(labels, served.head, prediction.embeddings[~held_out], names[~held_out], set_ids[~held_out])
        truth = names[held_out][0]
        memory_right += memory.name(prediction.embeddings[held_out]).exercise == truth
        general_right += labels[exercises[int(prediction.probabilities[held_out][:, exercises].mean(axis=0).argmax())]] == truth
    return {"sets": len(newest), "memory_accuracy": memory_right / len(newest), "general_accuracy": general_right / len(newest)}


# (owner, model version) → ((row, version), memory): a step reads the rows' ids and versions only,
# a memory's bytes once per rebuild and worker process. The row's id too: a reset memory's row is
# deleted, and the next one starts at version 1 again.
_loaded: dict[tuple[int, str], tuple[tuple[int, int], ExerciseMemory]] = {}


def memories_for(wanted: set[tuple[int, str]]) -> dict[tuple[int, str], ExerciseMemory]:
    """The current memory of each (athlete, model version) that has one: one query, and one more
    for those rebuilt since this process last read them."""
    if not wanted:
        return {}
    owners = {owner for owner, _ in wanted}
    current = {(owner, model): (pk, version) for owner, model, pk, version in
               AthleteMemory.objects.filter(owner_id__in=owners).values_list("owner_id", "model_version", "pk", "version")
               if (owner, model) in wanted}
    stale = {key: stamp for key, stamp in current.items() if _loaded.get(key, (None,))[0] != stamp}
    if stale:
        for pk, version, data in AthleteMemory.objects.filter(pk__in=[pk for pk, _ in stale.values()]).values_list(
                "pk", "version", "data"):
            key = next(key for key, stamp in stale.items() if stamp[0] == pk)
            _loaded[key] = ((pk, version), ExerciseMemory.from_bytes(bytes(data)))
    return {key: _loaded[key][1] for key in current if key in _loaded}

