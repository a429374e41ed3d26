"""An athlete's exercise memory: a real lifter's sets of exercises no model knows, taught by that
athlete's own labels, on real PostgreSQL, Redis and a real Celery worker."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone as tz

import numpy as np
import pandas as pd
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from classifier.gymformat import load_gym_folder, read_gym_csv
from classifier.memory import ExerciseMemory, MemoryConfig, teach
from classifier.recipes import GymRecipe, journal_model_dirs
from classifier.runtime import WindowClassifier
from ingest.models import Recording
from ingest.recordings import import_gym_recording
from journal import athlete_memory, pipeline, set_changes
from journal.models import AthleteMemory, Exercise, ExerciseSet
from tests.conftest import shared_data

LIFTER = shared_data("gym/applewatch_gym_sensorlogger")
TAUGHT = "2024-11-24T08-16-33_preacher_curl_S1"  # the athlete names this set
LATER = "2024-11-27T15-30-47_preacher_curl_S1"  # three days later: the memory should name it
EXERMOTE_WORKOUT = shared_data("gym/exermote_upperarm/sessions/2017-03-30T18-50-49_individual1.csv.gz")


def lifter_recording(name: str):
    return read_gym_csv(LIFTER / "sessions" / f"{name}.csv.gz")


def imported(owner, name: str):
    recording, _ = import_gym_recording(lifter_recording(name), owner=owner,
                                        started_at=datetime.fromisoformat(name[:19].replace("T", " ").replace("-", ":")
                                                                          .replace(":", "-", 2)).replace(tzinfo=tz.utc))
    return pipeline.final_pass(recording.pk)


def names(workout) -> list[tuple[str, int]]:
    return list(ExerciseSet.objects.filter(workout=workout).order_by("ordinal").values_list("exercise_id", "learned_from"))


def label_longest_set(workout, owner, exercise: str) -> ExerciseSet:
    longest = max(ExerciseSet.objects.filter(workout=workout), key=lambda s: s.duration_s)
    return set_changes.correct(longest.pk, owner, exercise=exercise)


def test_a_memory_learns_exercises_the_general_model_does_not_know_and_offers_them_for_an_unknown_set():
    served = WindowClassifier(journal_model_dirs()[1])
    assert "preacher_curl" not in served.card.labels
    sessions = {s.name: s for s in load_gym_folder(LIFTER, progress=False)}
    recipe = GymRecipe()

    def windows(name):
        return recipe.windows([sessions[name]])

    taught = [windows(n) for n in ("2024-11-24T08-16-33_preacher_curl_S1", "2024-11-24T08-04-33_incline_dumbbell_bicep_curl_S1")]
    X = np.concatenate([w.X for w in taught])
    exercises = np.concatenate([np.array([w.labels[i] for i in w.y]) for w in taught])
    set_ids = np.concatenate([w.sets for w in taught])
    memory = teach(served.card.labels, served.head, served.predict(X).embeddings, exercises, set_ids)
    assert memory.sets_taught == {"incline_dumbbell_bicep_curl": 1, "preacher_curl": 1}
    assert set(served.card.labels) - {"rest"} < set(memory.labels)  # the general exercises stay classes
    naming = memory.name(served.predict(windows(LATER).X).embeddings)
    assert (naming.exercise, naming.learned_from) == ("preacher_curl", 1)
    stored = memory.to_bytes()
    assert len(stored) < 100_000
    again = ExerciseMemory.from_bytes(stored)
    assert again.name(served.predict(windows(LATER).X).embeddings).exercise == "preacher_curl"
    # Nothing it knows fits well enough: unknown, with the athlete's own exercises to pick from.
    doubtful = ExerciseMemory.from_bytes(stored, MemoryConfig(unknown_below=0.999))
    wrist_curls = served.predict(windows("2024-11-27T15-49-31_dumbbell_wrist_curl_S1").X).embeddings
    naming = doubtful.name(wrist_curls)
    assert naming.exercise == "unknown" and naming.learned_from == 0
    assert set(naming.suggestions) == {"incline_dumbbell_bicep_curl", "preacher_curl"}
    # With the novelty test, an exercise never taught is asked about, not named as the nearest
    # taught one, however sure the layer is: its sets lie far from every set that taught that exercise.
    assert ExerciseMemory.from_bytes(stored, MemoryConfig(novel_below=0.93)).name(wrist_curls).exercise == "unknown"
    assert again.name(wrist_curls).exercise in again.sets_taught  # without the test (the default): named as a taught one


@pytest.mark.django_db(transaction=True)  # the archive writes frames on its own connection
def test_an_athletes_label_names_their_next_recording_and_no_one_elses_and_a_deleted_one_stops_counting(user):
    first = imported(user, TAUGHT)
    assert "preacher_curl" not in dict(names(first))
    taught = label_longest_set(first, user, "preacher_curl")
    athlete_memory.rebuild(user.pk)
    memory = AthleteMemory.objects.get(owner=user, model_version=first.model_version)  # one per model serving new recordings
    assert memory.sets_taught == {"preacher_curl": 1} and memory.gain == {}
    athlete_memory.measure_gain(user.pk)
    memory.refresh_from_db()
    assert memory.gain["sets"] == 1 and memory.gain["general_accuracy"] == 0  # the general model has no preacher curl

    later = imported(user, LATER)
    assert ("preacher_curl", 1) in names(later)

    # The exercises the athlete never taught keep the general model's names: one taught exercise is
    # not everything they do.
    burpees, _ = import_gym_recording(read_gym_csv(EXERMOTE_WORKOUT), owner=user, started_at=datetime(2024, 12, 1, tzinfo=tz.utc))
    workout = pipeline.final_pass(burpees.pk)
    assert names(workout) and all(learned == 0 for _, learned in names(workout))
    assert "preacher_curl" not in dict(names(workout))

    other = get_user_model().objects.create_user("other", password="pw")
    assert "preacher_curl" not in dict(names(imported(other, LATER)))

    set_changes.delete(taught.pk, user)
    athlete_memory.rebuild(user.pk)
    assert not AthleteMemory.objects.filter(owner=user).exists()
    assert "preacher_curl" not in dict(names(pipeline.final_pass(later.pk)))


@pytest.mark.django_db(transaction=True)
def test_a_reset_memory_forgets_what_the_athlete_taught_until_they_label_again(user):
    first = imported(user, TAUGHT)
    taught = label_longest_set(first, user, "preacher_curl")
    athlete_memory.rebuild(user.pk)
    key = (user.pk, first.model_version)
    assert athlete_memory.memories_for({key})[key].sets_taught == {"preacher_curl": 1}  # this process now holds it
    athlete_memory.reset(user.pk)
    athlete_memory.rebuild(user.pk)
    assert not AthleteMemory.objects.filter(owner=user).exists() and athlete_memory.memories_for({key}) == {}
    assert ExerciseSet.objects.get(pk=taught.pk).exercise_id == "preacher_curl"  # the label stays a label
    set_changes.correct(taught.pk, user, exercise="preacher_curl_seated")  # named again: it teaches again
    athlete_memory.rebuild(user.pk)  # a new row, at version 1 again: the process must not serve the forgotten one
    assert athlete_memory.memories_for({key})[key].sets_taught == {"preacher_curl_seated": 1}


@pytest.mark.django_db(transaction=True)
def test_a_correction_rebuilds_the_memory_in_a_real_worker_and_the_next_recording_is_named_by_it(user, celery):
    celery.start_worker()
    first = imported(user, TAUGHT)
    label_longest_set(first, user, "preacher_curl")  # queues the rebuild when it commits
    deadline = time.monotonic() + 120
    while not AthleteMemory.objects.filter(owner=user).exclude(gain={}).exists():
        assert time.monotonic() < deadline, "the workers did not rebuild the memory and measure its gain"
        time.sleep(0.2)
    assert ("preacher_curl", 1) in names(imported(user, LATER))


@pytest.mark.django_db(transaction=True)
def test_the_pages_say_where_a_sets_name_came_from_and_show_and_reset_the_memory(user, client):
    first = imported(user, TAUGHT)
    label_longest_set(first, user, "preacher_curl")
    athlete_memory.rebuild(user.pk)
    athlete_memory.measure_gain(user.pk)
    later = imported(user, LATER)
    client.force_login(user)
    page = client.get(f"/workouts/{later.pk}/").content.decode()
    assert "learned from 1 of your sets" in page
    memory_page = client.get("/memory/").content.decode()
    assert "Preacher curl" in memory_page and "Forget what it learned" in memory_page
    api = client.get(f"/api/workouts/{later.pk}/").json()
    assert any(s["exercise"] == "preacher_curl" and s["learned_from"] == 1 for s in api["sets"])
    assert client.post("/memory/reset").status_code == 302
    assert not AthleteMemory.objects.filter(owner=user).exists()
    assert "Nothing yet" in client.get("/memory/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_an_unknown_set_offers_the_athletes_closest_exercises_in_one_tap(user, client):
    first = imported(user, TAUGHT)
    unknown = ExerciseSet.objects.filter(workout=first).first()
    ExerciseSet.objects.filter(pk=unknown.pk).update(exercise_id="unknown", suggestions=["preacher_curl", "lat_pulldown"])
    client.force_login(user)
    Exercise.ensure({"preacher_curl", "lat_pulldown"})
    page = client.get(f"/workouts/{first.pk}/").content.decode()
    assert "Preacher curl?" in page and "Lat pulldown?" in page
    ExerciseSet.objects.filter(pk=unknown.pk).update(reps=unknown.reps + 1)  # the set grew since the page loaded
    client.post(f"/sets/{unknown.pk}/name", {"exercise": "preacher_curl"})
    named = ExerciseSet.objects.get(pk=unknown.pk)
    assert (named.exercise_id, named.source, named.reps) == ("preacher_curl", "labelled", unknown.reps + 1)
    assert named.suggestions == [] and "Preacher curl?" not in client.get(f"/workouts/{first.pk}/").content.decode()


def test_evaluate_classifier_scores_a_memory_taught_from_a_folder_beside_the_model_alone(tmp_path):
    sessions = pd.read_csv(LIFTER / "sessions.csv")
    sets = pd.read_csv(LIFTER / "sets.csv")
    days = {"teach": ["2024-11-24"], "test": ["2024-11-27"]}  # curls, preacher curls, pull-ups on both days
    for part, wanted in days.items():
        folder = tmp_path / part
        (folder / "sessions").mkdir(parents=True)
        chosen = sessions[sessions.workout_date.isin(wanted)]
        chosen.to_csv(folder / "sessions.csv", index=False)
        sets[sets.session_file.isin(chosen.session_file)].to_csv(folder / "sets.csv", index=False)
        for session_file in chosen.session_file:
            (folder / session_file).symlink_to(LIFTER / session_file)
    out = tmp_path / "personal.json"
    call_command("evaluate_classifier", model=journal_model_dirs()[1], data=tmp_path / "test", personal=tmp_path / "teach",
                 json_path=out, verbosity=0)
    results = json.loads(out.read_text())
    assert results["sets_taught"]["preacher_curl"] == 2
    assert results["general"]["accuracy"] == 0  # it knows none of the lifter's exercises
    assert results["accuracy"] > 0.5 and results["macro_f1"] > 0 and results["window_accuracy"] > 0.5
    assert results["sets"] == results["general"]["sets"] == len(sets[sets.session_file.str.contains("2024-11-27")])


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_label_changes_queues_one_rebuild_and_a_change_after_it_starts_another(user, monkeypatch):
    queued = []
    monkeypatch.setattr(athlete_memory.current_app, "send_task", lambda name, args, countdown: queued.append(args))
    workout = imported(user, TAUGHT)
    first, *others = ExerciseSet.objects.filter(workout=workout)
    for exercise_set in [first, *others]:  # an import saves one recording's labels at a time
        set_changes.correct(exercise_set.pk, user, reps=exercise_set.reps)
    assert queued == [(user.pk,)]
    athlete_memory.rebuild_started(user.pk)  # the worker reads the labels from here on
    set_changes.correct(first.pk, user, exercise="preacher_curl")
    assert queued == [(user.pk,), (user.pk,)]


@pytest.mark.django_db(transaction=True)
def test_deleting_a_labelled_recording_queues_a_rebuild_that_forgets_its_sets(user, monkeypatch):
    queued = []
    monkeypatch.setattr(athlete_memory.current_app, "send_task", lambda name, args, countdown: queued.append(args))
    workout = imported(user, TAUGHT)
    label_longest_set(workout, user, "preacher_curl")
    athlete_memory.rebuild_started(user.pk)
    athlete_memory.rebuild(user.pk)
    assert AthleteMemory.objects.filter(owner=user).exists()
    queued.clear()

    # The sets go by the database's cascade, past set_changes.py (a recording deleted from a shell;
    # the admin refuses while the recording has sets).
    Recording.objects.get(pk=workout.pk).delete()
    assert not ExerciseSet.objects.filter(owner=user).exists()
    assert queued == [(user.pk,)]
    athlete_memory.rebuild(user.pk)  # what the queued task runs
    assert not AthleteMemory.objects.filter(owner=user).exists()


def test_bench_personal_writes_each_method_at_each_k_in_the_issues_shape(tmp_path):
    out = tmp_path / "personal.json"
    call_command("bench", "personal", "--data", str(LIFTER), "--seeds", "1", "--shots", "1", "--json", str(out),
                 "--plot", str(tmp_path / "personal.png"), verbosity=0)
    written = json.loads(out.read_text())
    results = written["datasets"]["applewatch_gym_sensorlogger"]
    methods = ("memory", "memory_both_arms", "fine_tune", "forest")
    assert set(results) == {"general", *methods}
    assert set(results["general"]) == {"0"} and all(set(results[m]) == {"1"} for m in methods)
    for scores in (results["general"]["0"], results["memory"]["1"]):
        assert {"set_macro_f1", "set_macro_f1_sd", "set_accuracy", "window_accuracy"} <= set(scores)
    assert results["general"]["0"]["set_accuracy"] == 0  # the lifter's exercises are unknown to it
    assert results["memory"]["1"]["set_accuracy"] > 0.5 and results["memory"]["1"]["sets_scored"] == 51
    assert (tmp_path / "personal.png").stat().st_size > 5000
    # Day by day: each day taught by the ones before; the first day can teach nothing.
    by_day = written["by_day"]["applewatch_gym_sensorlogger"]
    assert by_day["days"][0]["nameable"] == 0 and by_day["memory"]["per_day"][0] == 0
    assert by_day["sets"] == sum(day["sets"] for day in by_day["days"]) and by_day["ceiling"] == by_day["nameable"] / by_day["sets"]
    assert 0.5 < by_day["memory"]["set_accuracy_of_known"] <= 1 and by_day["memory"]["set_accuracy"] <= by_day["ceiling"]
