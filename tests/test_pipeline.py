"""The pipeline on real PostgreSQL and Redis: live steps as frames arrive, the final pass, and
what must survive — repeated steps, a step that dies, a lost stream, a person's correction.
The end-to-end run through a real web server and Celery worker is in test_stack.py."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
import uuid

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.utils import timezone

from classifier.card import ModelCard
from classifier.gymformat import read_gym_csv
from classifier.mirror import LIMB_AXIS_OF_PLACEMENT, mirror_signs
from classifier.recipes import journal_model_dirs
from config.redis import redis_client
from ingest.models import Recording
from ingest.recordings import store_frames as store_accepted
from ingest.handoff import stream_key
from ingest.storage import AcceptedFrame
from journal import pipeline, set_changes
from journal.models import ExerciseSet, ModelVersion, Workout
from journal.pipeline import offline_sets
from journal.tasks import process_recordings
from tests.conftest import shared_data

pytestmark = pytest.mark.django_db(transaction=True)

CONTINUOUS = shared_data("gym/exermote_upperarm/sessions/2017-03-30T18-50-49_individual1.csv.gz")
FRAME = 10  # samples per frame: one second at 10 Hz


@pytest.fixture(scope="module")
def workout_signal():
    return read_gym_csv(CONTINUOUS)


def new_recording(user, signal, **worn) -> Recording:
    return Recording.objects.create(id=uuid.uuid4(), owner=user, rate_hz=signal.rate_hz, channels=signal.channels,
                                    started_at=timezone.now(), **worn)


def store_frames(recording: Recording, samples: np.ndarray, first_seq: int) -> int:
    frames = [AcceptedFrame(recording.id, first_seq + i, samples[start:start + FRAME])
              for i, start in enumerate(range(0, len(samples), FRAME))]
    store_accepted(frames)
    return first_seq + len(frames)


def machine_sets(recording: Recording) -> list[tuple]:
    return [(s.exercise_id, s.reps, s.closed, s.start_s, s.end_s)
            for s in ExerciseSet.objects.filter(workout_id=recording.id).order_by("ordinal")]


def offline(recording: Recording) -> list[tuple]:
    return [(exercise, reps, True, start, end) for exercise, reps, start, end in offline_sets(recording)]


def stream_live(recording: Recording, samples: np.ndarray, seconds_per_step: int = 5) -> list[list[tuple]]:
    """Store the recording a few seconds at a time, a live step after each; the sets after each step."""
    seq, history = 0, []
    for start in range(0, len(samples), seconds_per_step * FRAME):
        seq = store_frames(recording, samples[start:start + seconds_per_step * FRAME], seq)
        pipeline.live_step(recording.id)
        history.append(machine_sets(recording))
    return history


def test_live_steps_grow_sets_and_the_final_pass_equals_the_offline_result(user, workout_signal):
    recording = new_recording(user, workout_signal)
    history = stream_live(recording, workout_signal.samples)
    open_counts = [reps for sets in history for (_, reps, closed, start, _) in sets if not closed and start < 70]
    assert open_counts and open_counts[-1] > open_counts[0]  # the first set was shown, growing, while done
    live = history[-1]
    assert [s[0] for s in live] == ["burpee", "burpee", "squat", "burpee", "burpee"]
    workout = Workout.objects.get(pk=recording.id)  # the windows of closed sets were let go: steps stay cheap
    assert workout.segmenter["origin"] > 0 and len(workout.window_probabilities(len(workout.model_labels()))) < workout.segmenter["windows"]

    Recording.objects.filter(id=recording.id).update(status=Recording.Status.ENDED)
    pipeline.final_pass(recording.id)
    final = offline(recording)
    assert machine_sets(recording) == final
    for a, b in zip(live, final):  # live and final agree within a rep and the live lag
        assert a[0] == b[0] and abs(a[1] - b[1]) <= 1 and abs(a[3] - b[3]) <= 10 and abs(a[4] - b[4]) <= 10
    workout = Workout.objects.get(pk=recording.id)
    assert workout.finalized_at and workout.model_version.startswith("journal-acc-gyro@")
    assert set(ExerciseSet.objects.filter(workout=workout).values_list("model_version", flat=True)) == {workout.model_version}


def test_the_same_movement_on_the_left_arm_gets_the_sets_it_gets_on_the_right(user, workout_signal):
    """Exermote's phone was in an armband on the right upper arm; the same workout on the left arm
    is its mirror image (classifier/mirror.py), which the pipeline turns back into the models' frame."""
    samples = workout_signal.samples[:1500]
    right = new_recording(user, workout_signal, side="right", placement="upper_arm")
    left = new_recording(user, workout_signal, side="left", placement="upper_arm")
    mirrored = samples * mirror_signs(workout_signal.channels, LIMB_AXIS_OF_PLACEMENT["upper_arm"])
    assert not np.array_equal(mirrored, samples)
    assert stream_live(left, mirrored) == stream_live(right, samples)  # live, step by step
    # Not merely the same sets (the models read both arms): the very same model outputs.
    assert bytes(Workout.objects.get(pk=left.id).probabilities) == bytes(Workout.objects.get(pk=right.id).probabilities)
    Recording.objects.filter(id__in=[left.id, right.id]).update(status=Recording.Status.ENDED)
    pipeline.final_pass(left.id), pipeline.final_pass(right.id)
    assert machine_sets(left) == machine_sets(right) and [s[0] for s in machine_sets(right)][:2] == ["burpee", "burpee"]


def test_a_step_with_nothing_new_changes_nothing_and_a_repeated_task_is_harmless(user, workout_signal):
    recording = new_recording(user, workout_signal)
    store_frames(recording, workout_signal.samples[:1200], 0)
    assert pipeline.live_step(recording.id) is not None
    before = machine_sets(recording)
    cursor = Workout.objects.values_list("processed_frames", "tail_frame", "probabilities").get(pk=recording.id)
    assert pipeline.live_step(recording.id) is None
    process_recordings([str(recording.id)])  # the same task delivered again
    assert machine_sets(recording) == before and before
    assert Workout.objects.values_list("processed_frames", "tail_frame", "probabilities").get(pk=recording.id) == cursor


def test_recordings_stepped_together_get_the_sets_each_gets_alone(user, workout_signal):
    signals = [workout_signal.samples[:1500], workout_signal.samples[700:2900]]
    alone = [new_recording(user, workout_signal) for _ in signals]
    together = [new_recording(user, workout_signal) for _ in signals]
    seqs = [0] * len(signals)
    for start in range(0, 2200, 200):
        for i, samples in enumerate(signals):
            for recording in (alone[i], together[i]):
                next_seq = store_frames(recording, samples[start:start + 200], seqs[i])
            seqs[i] = next_seq
        for recording in alone:
            pipeline.live_step(recording.id)
        steps = pipeline.live_steps([recording.id for recording in together])
        assert steps.stepped == {r.id for r, samples in zip(together, signals) if start < len(samples)}  # only those with new frames
    for one, other in zip(alone, together):
        assert machine_sets(one) == machine_sets(other) and machine_sets(one)
        assert Workout.objects.filter(pk=one.id).values_list("processed_frames", "segmenter").get() == \
            Workout.objects.filter(pk=other.id).values_list("processed_frames", "segmenter").get()


def test_the_trigger_gathers_the_recordings_needing_a_step_into_one_task(monkeypatch):
    from journal import triggers

    sent = []
    monkeypatch.setattr(triggers, "_enqueue", sent.append)
    monkeypatch.setattr(triggers, "BATCH_SECONDS", 0.2)

    async def frames_stored_for_three_recordings_then_one():
        for recording_id in ("a", "b", "c"):
            triggers._batches().add([recording_id])
        await asyncio.sleep(0.5)
        triggers._batches().add(["d"])  # the loop ends before its batch is due: sent all the same

    asyncio.run(frames_stored_for_three_recordings_then_one())
    assert sent == [["a", "b", "c"], ["d"]]


def test_a_step_that_dies_before_its_commit_leaves_no_trace(user, workout_signal, monkeypatch):
    undisturbed = new_recording(user, workout_signal)
    stream_live(undisturbed, workout_signal.samples[:1500], seconds_per_step=50)

    recording = new_recording(user, workout_signal)
    store_frames(recording, workout_signal.samples[:500], 0)
    pipeline.live_step(recording.id)
    store_frames(recording, workout_signal.samples[500:1000], 50)

    def crash(*args, **kwargs):
        raise RuntimeError("worker killed")
    with monkeypatch.context() as patched:
        patched.setattr(pipeline, "replace_machine_sets", crash)
        with pytest.raises(RuntimeError):
            pipeline.live_step(recording.id)
    assert Workout.objects.get(pk=recording.id).processed_frames == 50  # the cursor did not move
    pipeline.live_step(recording.id)
    store_frames(recording, workout_signal.samples[1000:1500], 100)
    pipeline.live_step(recording.id)
    assert machine_sets(recording) == machine_sets(undisturbed)


def test_a_recording_another_step_holds_is_skipped_not_waited_for(user, workout_signal):
    held, free = new_recording(user, workout_signal), new_recording(user, workout_signal)
    for recording in (held, free):
        store_frames(recording, workout_signal.samples[:600], 0)
    pipeline.live_step(held.id)
    store_frames(held, workout_signal.samples[600:1200], 60)
    locked, release = threading.Event(), threading.Event()

    def another_step():
        with transaction.atomic():
            set_changes.workout_of(held.id)
            locked.set()
            release.wait(60)
        connection.close()
    holder = threading.Thread(target=another_step)
    holder.start()
    assert locked.wait(60)
    try:
        steps = pipeline.live_steps([held.id, free.id])
    finally:
        release.set()
        holder.join()
    assert steps.stepped == {free.id} and steps.busy == [held.id]
    assert pipeline.live_step(held.id).processed_frames == 120  # once free, its step goes on


def test_a_recording_that_fails_its_step_holds_up_no_other_in_its_batch(user, workout_signal, monkeypatch):
    healthy, broken = new_recording(user, workout_signal), new_recording(user, workout_signal)
    for recording in (healthy, broken):
        store_frames(recording, workout_signal.samples[:600], 0)
    step = pipeline._step

    def fails_for_one(workout, *args):
        if workout.pk == broken.id:
            raise RuntimeError("a bug that only this recording meets")
        return step(workout, *args)
    monkeypatch.setattr(pipeline, "_step", fails_for_one)
    process_recordings([str(broken.id), str(healthy.id)])  # the batch fails, then each goes on its own
    assert Workout.objects.get(pk=healthy.id).processed_frames == 60
    assert not Workout.objects.filter(pk=broken.id, processed_frames__gt=0).exists()
    assert broken.frames.count() == 60  # kept, for a step once the bug is fixed


def test_frames_missing_from_the_stream_are_read_from_the_archive(user, workout_signal):
    recording = new_recording(user, workout_signal)
    store_frames(recording, workout_signal.samples, 0)
    redis_client().delete(stream_key(recording.id))  # e.g. Redis restarted without its AOF
    assert pipeline.live_step(recording.id)
    Recording.objects.filter(id=recording.id).update(status=Recording.Status.ENDED)
    process_recordings([str(recording.id)])
    assert machine_sets(recording) == offline(recording)


def test_a_labelled_set_is_never_overwritten_by_the_machine(user, workout_signal):
    recording = new_recording(user, workout_signal)
    store_frames(recording, workout_signal.samples, 0)
    Recording.objects.filter(id=recording.id).update(status=Recording.Status.ENDED)
    process_recordings([str(recording.id)])
    corrected = ExerciseSet.objects.get(workout_id=recording.id, ordinal=2)
    corrected.exercise_id, corrected.reps, corrected.source = "burpee", 12, ExerciseSet.Source.LABELLED
    corrected.save()
    pipeline.final_pass(recording.id)
    sets = ExerciseSet.objects.filter(workout_id=recording.id).order_by("ordinal")
    assert len(sets) == 5
    kept = sets.get(source=ExerciseSet.Source.LABELLED)
    assert (kept.pk, kept.exercise_id, kept.reps, kept.ordinal) == (corrected.pk, "burpee", 12, 2)


def test_a_deleted_set_stays_deleted_and_a_split_stays_split(user, workout_signal):
    recording = new_recording(user, workout_signal)
    store_frames(recording, workout_signal.samples, 0)
    Recording.objects.filter(id=recording.id).update(status=Recording.Status.ENDED)
    process_recordings([str(recording.id)])
    found = list(ExerciseSet.objects.filter(workout_id=recording.id).order_by("ordinal"))
    set_changes.delete(found[0].pk, user)
    set_changes.split(found[1].pk, user, (found[1].start_s + found[1].end_s) / 2)
    pipeline.final_pass(recording.id)
    after = list(ExerciseSet.objects.filter(workout_id=recording.id).order_by("ordinal"))
    assert len(after) == len(found) + 1 - 1
    assert after[0].start_s > found[0].end_s  # nothing where the deleted set was
    assert [s.source for s in after[:2]] == ["labelled", "labelled"]
    assert [s.ordinal for s in after] == list(range(len(after)))


def test_the_lag_behind_the_watches_shows_on_healthz_and_in_the_admin(user, workout_signal, client, admin_client, settings):
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    recording = new_recording(user, workout_signal)
    store_frames(recording, workout_signal.samples[:300], 0)
    pipeline_health = client.get("/healthz").json()["pipeline"]
    assert pipeline_health["streaming_recordings"] == 1 and pipeline_health["frames_behind"] == 30
    assert pipeline_health["max_lag_s"] >= 0
    pipeline.live_step(recording.id)
    assert client.get("/healthz").json()["pipeline"]["frames_behind"] == 0
    store_frames(recording, workout_signal.samples[300:350], 30)
    page = admin_client.get(f"/admin/journal/workout/{recording.id}/change/")
    assert page.status_code == 200 and "5 frames" in page.content.decode()


def test_an_activated_model_serves_new_recordings_while_begun_workouts_keep_theirs(user, workout_signal, tmp_path):
    begun = new_recording(user, workout_signal)
    store_frames(begun, workout_signal.samples[:300], 0)
    pipeline.live_step(begun.id)
    committed = ModelCard.load(journal_model_dirs()[1])
    assert Workout.objects.get(pk=begun.id).model_version == committed.versioned_name

    retrained = tmp_path / "journal-acc-gyro-next"
    shutil.copytree(journal_model_dirs()[1], retrained)
    card = json.loads((retrained / "card.json").read_text())
    next_version = f"journal-acc-gyro@{int(committed.version) + 1}"
    (retrained / "card.json").write_text(json.dumps({**card, "version": next_version.split("@")[1]}))
    call_command("activate_model", str(retrained))

    fresh = new_recording(user, workout_signal)
    store_frames(fresh, workout_signal.samples[:300], 0)
    store_frames(begun, workout_signal.samples[300:600], 30)
    pipeline.live_step(fresh.id)
    pipeline.live_step(begun.id)
    assert Workout.objects.get(pk=fresh.id).model_version == next_version
    assert Workout.objects.get(pk=begun.id).model_version == committed.versioned_name
    assert set(ExerciseSet.objects.filter(workout_id=fresh.id).values_list("model_version", flat=True)) <= {next_version}
    assert ModelVersion.objects.get(active=True).name == next_version
    with pytest.raises(CommandError, match="not a model artefact"):
        call_command("activate_model", str(tmp_path))


def test_a_recording_reprocessed_with_another_model_goes_on_with_it_live(user, workout_signal, tmp_path):
    recording = new_recording(user, workout_signal)
    seq = store_frames(recording, workout_signal.samples[:600], 0)
    pipeline.live_step(recording.id)
    retrained = tmp_path / "journal-acc-gyro-v2"
    shutil.copytree(journal_model_dirs()[1], retrained)
    card = json.loads((retrained / "card.json").read_text())
    (retrained / "card.json").write_text(json.dumps({**card, "version": "2"}))
    call_command("activate_model", str(retrained))

    pipeline.final_pass(recording.id, active_model=True)  # the admin's "Re-process with the active model"
    assert Workout.objects.get(pk=recording.id).segmenter == {}  # the old model's windows are not the new one's
    store_frames(recording, workout_signal.samples[600:1500], seq)  # the watch was still streaming
    workout = pipeline.live_step(recording.id)
    assert workout.model_version == "journal-acc-gyro@2" and workout.segmenter["windows"] > 100  # the new model from window 0
    assert set(ExerciseSet.objects.filter(workout_id=recording.id).values_list("model_version", flat=True)) == {"journal-acc-gyro@2"}


def test_the_bench_counts_a_sets_latency_from_the_arrival_of_its_sample_to_the_first_poll_with_the_final_count():
    from bench.pipeline import _first_showing

    arrived = 10.0
    assert _first_showing([(9.5, False), (9.8, True), (10.2, True)], arrived) == 0.0  # already right
    assert _first_showing([(9.8, False), (10.5, False), (11.25, True)], arrived) == 1.25
    assert _first_showing([(9.8, True), (9.9, False), (12.0, True)], arrived) == 2.0  # an over-count at arrival
    assert _first_showing([(9.8, False), (10.5, False)], arrived) is None  # never shown


def test_an_open_set_keeps_its_row_while_it_grows_and_stops_counting_when_the_athlete_stops(user, workout_signal):
    recording = new_recording(user, workout_signal)
    seq, shown = 0, []
    for start in range(0, 900, 2 * FRAME):  # the first two sets, two seconds a step
        seq = store_frames(recording, workout_signal.samples[start:start + 2 * FRAME], seq)
        pipeline.live_step(recording.id)
        shown += ExerciseSet.objects.filter(workout_id=recording.id, ordinal=0).values_list("pk", "reps", "closed")
    Recording.objects.filter(id=recording.id).update(status=Recording.Status.ENDED)
    final_reps = offline(recording)[0][1]
    open_rows = [(pk, reps) for pk, reps, closed in shown if not closed]
    assert len(open_rows) > 5 and len({pk for pk, _ in open_rows}) == 1  # one row, one id, updated in place
    assert max(reps for _, reps in open_rows) <= final_reps + 1


def test_a_watch_that_comes_back_after_the_final_pass_is_stepped_again(user, workout_signal):
    recording = new_recording(user, workout_signal)
    seq = store_frames(recording, workout_signal.samples[:1500], 0)
    pipeline.live_step(recording.id)
    first = pipeline.final_pass(recording.id).sets.order_by("ordinal").first()  # it went quiet
    store_frames(recording, workout_signal.samples[1500:1800], seq)
    stepped = pipeline.live_step(recording.id)
    assert stepped.processed_frames == 180 and stepped.finalized_at is None  # another final pass is due
    # the final pass's first set, long behind the live segmenter, is kept as the final pass counted it
    assert (first.exercise_id, first.reps, True, first.start_s, first.end_s) in machine_sets(recording)
    pipeline.final_pass(recording.id)  # it ended or went quiet again: the whole recording, final
    assert machine_sets(recording) == offline(recording)
