"""Labelling and retraining on real PostgreSQL and Redis: staff only; a labeller's save replaces
the sets and never overwrites a concurrent change; labels travel as a gym-format folder and
come back identical; a retrain registers a version scored beside the active one, and activating
it changes the model that processes new recordings. The labelling page in a real browser is in
test_browser.py."""

from __future__ import annotations

import filecmp
import functools
import time
import uuid
from datetime import date, datetime

import pandas as pd
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from classifier.card import ModelCard
from classifier.gymformat import GymSession, load_gym_folder
from classifier.recipes import journal_model_dirs
from ingest.models import Recording
from ingest.recordings import import_gym_recording
from journal import pipeline
from journal.labels import labelled_recordings
from journal.set_changes import LabelledSet, save_labels
from journal.models import ExerciseSet, ModelVersion, TrainingRun, Workout
from journal.retraining import retrain
from tests.conftest import shared_data, workout_with_sets

EXERMOTE = shared_data("gym/exermote_upperarm")
SERVED_GYRO = ModelCard.load(journal_model_dirs()[0]).versioned_name  # the committed gyroscope model, e.g. journal-gyro@2


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user("labeller", password="pw-labeller-1", is_staff=True)


@pytest.fixture
def staff_api(staff):
    client = APIClient()
    client.force_authenticate(staff)
    return client


def test_none_of_it_is_reachable_by_an_athlete(client, user):
    workout = workout_with_sets(user, date(2026, 10, 3), [("squat", 10)])
    client.force_login(user)
    for url in (f"/label/{workout.pk}/", "/admin/", "/admin/journal/trainingrun/", "/admin/journal/modelversion/"):
        answer = client.get(url)
        assert answer.status_code == 302 and answer.url.startswith("/admin/login/"), url
    api = APIClient()
    api.force_authenticate(user)
    for url in (f"/api/recordings/{workout.pk}/signal/", f"/api/recordings/{workout.pk}/labels/"):
        assert api.get(url).status_code == 403
    assert api.put(f"/api/recordings/{workout.pk}/labels/", {"version": 0, "sets": []}, format="json").status_code == 403
    assert workout.sets.count() == 1


def test_the_admin_shows_sets_but_changes_them_only_through_the_labelling_page(admin_client, user):
    """Every change of sets goes through journal/set_changes.py: the admin's set pages are read-only
    and send staff to the labelling page, where a save numbers, versions and labels the sets."""
    workout = workout_with_sets(user, date(2026, 10, 3), [("squat", 9), ("lunge", 6)])
    page = admin_client.get(f"/admin/journal/workout/{workout.pk}/change/").content.decode()
    assert f'href="/label/{workout.pk}/"' in page and 'name="sets-0-reps"' not in page
    one = workout.sets.get(ordinal=0)
    changed = admin_client.post(f"/admin/journal/exerciseset/{one.pk}/change/",
                                {"exercise": "lunge", "reps": 99, "start_s": 0, "end_s": 1, "ordinal": 5})
    assert changed.status_code == 403
    assert admin_client.post(f"/admin/journal/exerciseset/{one.pk}/delete/", {"post": "yes"}).status_code == 403
    one.refresh_from_db()
    assert (one.exercise_id, one.reps, one.ordinal) == ("squat", 9, 0)


def test_a_save_replaces_the_sets_and_a_stale_one_is_a_conflict(staff_api, staff, user):
    workout = workout_with_sets(user, date(2026, 10, 3), [("squat", 9), ("lunge", 6), ("squat", 8)])
    url = f"/api/recordings/{workout.pk}/labels/"
    shown = staff_api.get(url).json()
    assert [s["reps"] for s in shown["sets"]] == [9, 6, 8] and shown["labelled_at"] is None
    fixed = [{**shown["sets"][0], "exercise": "front_squat", "reps": 10, "rep_times_s": [2.5, 5.0]}, shown["sets"][2]]

    saved = staff_api.put(url, {"version": shown["version"], "sets": fixed, "mark_labelled": True}, format="json")
    assert saved.status_code == 200, saved.json()
    assert [(s["exercise"], s["reps"], s["source"]) for s in saved.json()["sets"]] == \
        [("front_squat", 10, "labelled"), ("squat", 8, "labelled")]
    workout.refresh_from_db()
    assert workout.labelled_by == staff and workout.labelled_at and workout.dismissed == [[60.0, 90.0]]

    stale = staff_api.put(url, {"version": shown["version"], "sets": []}, format="json")
    assert stale.status_code == 409 and "changed since you loaded them" in stale.json()["detail"]
    assert workout.sets.count() == 2

    # the athlete's correction is a change too: the labeller's next save must see it first
    athlete = APIClient()
    athlete.force_authenticate(user)
    athlete.patch(f"/api/sets/{workout.sets.first().pk}/", {"reps": 11}, format="json")
    assert staff_api.put(url, {"version": saved.json()["version"], "sets": []}, format="json").status_code == 409

    current = staff_api.get(url).json()
    overlapping = [{"exercise": "squat", "start_s": 0, "end_s": 30, "reps": 5}, {"exercise": "squat", "start_s": 20, "end_s": 40, "reps": 5}]
    assert staff_api.put(url, {"version": current["version"], "sets": overlapping}, format="json").status_code == 400
    backwards = [{"exercise": "squat", "start_s": 30, "end_s": 10, "reps": 5}]
    assert staff_api.put(url, {"version": current["version"], "sets": backwards}, format="json").status_code == 400
    assert staff_api.put(url, {"version": current["version"], "sets": [{**backwards[0], "exercise": "Bad Name!"}]},
                         format="json").status_code == 400
    assert [s.reps for s in workout.sets.order_by("ordinal")] == [11, 8]


def test_a_labellers_save_keeps_what_the_athlete_entered_and_what_it_did_not_change(staff_api, staff, user, client):
    workout = workout_with_sets(user, date(2026, 10, 3), [("squat", 9), ("lunge", 6), ("squat", 8)])
    first, second, third = workout.sets.order_by("ordinal")
    client.force_login(user)  # the athlete enters the load and a note on set 3, on the workout page
    client.post(f"/sets/{third.pk}/edit", {"exercise": "squat", "reps": 8, "weight_kg": "100", "notes": "PR, felt easy"})
    url = f"/api/recordings/{workout.pk}/labels/"
    shown = staff_api.get(url).json()
    assert [s["id"] for s in shown["sets"]] == [first.pk, second.pk, third.pk]
    edited = [shown["sets"][0], {**shown["sets"][1], "reps": 7}, shown["sets"][2]]  # the labeller fixes set 2's count
    assert staff_api.put(url, {"version": shown["version"], "sets": edited}, format="json").status_code == 200

    rows = {s.pk: s for s in workout.sets.all()}
    assert (rows[third.pk].weight_kg, rows[third.pk].notes, rows[third.pk].labelled_by) == (100.0, "PR, felt easy", user)
    assert (rows[second.pk].reps, rows[second.pk].source, rows[second.pk].labelled_by) == (7, "labelled", staff)
    assert (rows[first.pk].source, rows[first.pk].confidence) == ("machine", 0.9)  # untouched: still the machine's guess
    page = client.get(f"/workouts/{workout.pk}/").content.decode()
    assert page.count('class="badge you"') == 1 and ">labeller</span>" in page
    assert "100 kg × 8" in client.get("/progress/", {"exercise": "squat"}).content.decode()

    # Marking the recording labelled confirms the machine's set as it is: a label now, its confidence kept.
    shown = staff_api.get(url).json()
    assert staff_api.put(url, {"version": shown["version"], "sets": shown["sets"], "mark_labelled": True},
                         format="json").status_code == 200
    rows = {s.pk: s for s in workout.sets.all()}
    assert (rows[first.pk].source, rows[first.pk].confidence, rows[first.pk].labelled_by) == ("labelled", 0.9, staff)
    assert rows[third.pk].labelled_by == user and rows[third.pk].weight_kg == 100.0


def test_sets_sent_without_ids_are_matched_by_their_span(staff, user):
    workout = workout_with_sets(user, date(2026, 10, 3), [("squat", 9), ("lunge", 6)])
    first, second = workout.sets.order_by("ordinal")
    ExerciseSet.objects.filter(pk=first.pk).update(weight_kg=60, source="labelled", labelled_by=user)
    again = [LabelledSet("squat", 0, 30, 9), LabelledSet("lunge", 60, 90, 7)]  # as an imported folder sends them
    save_labels(Recording.objects.get(pk=workout.pk), again, by=staff, version=None, mark_labelled=True)
    rows = list(workout.sets.order_by("ordinal"))
    assert rows[0].pk == first.pk and rows[0].weight_kg == 60 and rows[0].labelled_by == user  # same span: kept as it was
    assert rows[1].pk == second.pk and (rows[1].reps, rows[1].labelled_by) == (7, staff)  # same span: edited in place
    # Another span is another set; the old one's span, covered by the new one, is not kept empty.
    save_labels(Recording.objects.get(pk=workout.pk), [again[0], LabelledSet("lunge", 60, 80, 7)], by=staff,
                version=None, mark_labelled=True)
    workout.refresh_from_db()
    assert [s.end_s for s in workout.sets.order_by("ordinal")] == [30, 80] and workout.dismissed == []


@functools.cache
def exermote(name: str) -> GymSession:
    return next(s for s in load_gym_folder(EXERMOTE, progress=False) if s.name == name)


def started(name: str) -> datetime:
    return timezone.make_aware(datetime.strptime(name[:19], "%Y-%m-%dT%H-%M-%S"))


def import_and_label(owner, name: str, by) -> Recording:
    """A real recording, archived, with the dataset's true sets saved as a person's labels."""
    session = exermote(name)
    recording, _ = import_gym_recording(session.recording, owner=owner, started_at=started(name))
    save_labels(recording, [LabelledSet(s.exercise, s.start_s, s.end_s, s.reps or 0, s.rep_starts_s) for s in session.sets],
                by=by, version=None, mark_labelled=True)
    return recording


@pytest.mark.django_db(transaction=True)  # the archive writes frames on its own connection
def test_export_import_export_is_identical(staff, user, tmp_path):
    recording = import_and_label(user, "2017-03-30T18-50-49_individual1", staff)
    first = ExerciseSet.objects.filter(workout_id=recording.pk).order_by("ordinal").first()
    api = APIClient()
    api.force_authenticate(staff)
    shown = api.get(f"/api/recordings/{recording.pk}/labels/").json()
    shown["sets"][0] = {**shown["sets"][0], "exercise": "burpee", "reps": 12}
    api.put(f"/api/recordings/{recording.pk}/labels/", {"version": shown["version"], "sets": shown["sets"]}, format="json")

    call_command("export_labels", tmp_path / "a")
    sets_csv = (tmp_path / "a" / "sets.csv").read_text()
    assert f"burpee,{first.start_s},{first.end_s},12,labelled" in sets_csv

    Recording.objects.all().delete()
    call_command("import_recording", tmp_path / "a", "--user", user.username)
    assert Workout.objects.get(recording__owner=user).labelled_by == staff
    call_command("export_labels", tmp_path / "b")
    comparison = filecmp.dircmp(tmp_path / "a", tmp_path / "b")
    assert comparison.left_list == comparison.right_list and not comparison.diff_files
    session_files = sorted(p.name for p in (tmp_path / "a" / "sessions").iterdir())
    assert filecmp.cmpfiles(tmp_path / "a" / "sessions", tmp_path / "b" / "sessions", session_files, shallow=False)[0] == session_files


@pytest.mark.django_db(transaction=True)
def test_a_retrain_is_scored_beside_the_active_model_and_activating_it_changes_new_sets(staff, settings, tmp_path):
    settings.JOURNAL_VERSION_DIR = tmp_path / "models"
    users = get_user_model().objects
    first, second = users.create_user("ana"), users.create_user("ben")
    import_and_label(first, "2017-03-30T18-50-49_individual1", staff)
    import_and_label(first, "2017-03-30T19-00-03_individual1", staff)
    import_and_label(second, "2017-04-22T15-51-42_individual2", staff)

    run = TrainingRun.objects.create(requested_by=staff, channels="gyro", epochs=6, seeds=2)
    version = retrain(run)
    run.refresh_from_db()
    assert (run.status, run.progress, run.version) == (TrainingRun.Status.DONE, 1.0, version)
    compared = version.comparison
    assert compared["held_out"] and compared["windows"] > 100
    assert compared["active"]["name"] == SERVED_GYRO and 0 <= compared["active"]["accuracy"] <= 1
    assert set(compared["new"]["per_class_f1"]) >= {"burpee", "rest"} and 0 <= compared["new"]["macro_f1"] <= 1
    assert compared["new"]["seeds"] == 2 and compared["new"]["accuracy_sd"] >= 0 and version.metrics["accuracy_mean"] == compared["new"]["accuracy_mean"]
    assert (tmp_path / "models" / "journal-retrained-gyro-1" / "evaluation" / "confusion.png").is_file()
    assert sorted(version.recordings) == sorted(str(r.pk) for r in labelled_recordings())

    version.activate(by=staff)  # the only active version: every new recording gets it
    name = "2017-04-22T15-22-00_individual1"
    fresh, _ = import_gym_recording(exermote(name).recording, owner=second, started_at=started(name))
    workout = pipeline.final_pass(fresh.pk)
    assert workout.model_version == version.name
    assert set(ExerciseSet.objects.filter(workout=workout).values_list("model_version", flat=True)) == {version.name}


def test_unknown_recording_answers_404_to_staff(staff_api):
    assert staff_api.get(f"/api/recordings/{uuid.uuid4()}/labels/").status_code == 404
    assert ModelVersion.objects.count() == 0


def wait_for(condition, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the worker did not finish in time"
        time.sleep(0.5)


@pytest.mark.django_db(transaction=True)
def test_admin_actions_retrain_activate_and_reprocess_on_a_real_worker(admin_client, admin_user, celery, settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    celery.env["JOURNAL_VERSION_DIR"] = str(tmp_path / "models")
    celery.start_worker()
    users = get_user_model().objects
    ana, ben = users.create_user("ana"), users.create_user("ben")
    labelled = [import_and_label(ana, "2017-03-30T18-50-49_individual1", admin_user),
                import_and_label(ana, "2017-03-30T19-00-03_individual1", admin_user),
                import_and_label(ben, "2017-04-22T15-51-42_individual2", admin_user)]
    name = "2017-04-22T15-22-00_individual1"
    unlabelled, _ = import_gym_recording(exermote(name).recording, owner=ben, started_at=started(name))

    listing = admin_client.get("/admin/ingest/recording/?labelled=yes")
    assert listing.status_code == 200 and f"/label/{labelled[0].pk}/" in listing.content.decode()
    admin_client.post("/admin/ingest/recording/", {"action": "retrain", "_selected_action": [str(r.pk) for r in labelled]})
    run = TrainingRun.objects.get()
    wait_for(lambda: TrainingRun.objects.get(pk=run.pk).status in ("done", "failed"))
    run.refresh_from_db()
    assert run.status == "done", run.message
    assert "progress" in admin_client.get("/admin/journal/trainingrun/").content.decode()

    version_page = admin_client.get(f"/admin/journal/modelversion/{run.version.pk}/change/").content.decode()
    assert "Held out: " in version_page and SERVED_GYRO in version_page and "macro-F1" in version_page
    assert admin_client.get(f"/label/models/{run.version.pk}/confusion.png")["Content-Type"] == "image/png"
    admin_client.post("/admin/journal/modelversion/", {"action": "activate", "_selected_action": [run.version.pk]})
    run.version.refresh_from_db()
    assert run.version.active and run.version.activated_by == admin_user

    admin_client.post("/admin/ingest/recording/", {"action": "reprocess", "_selected_action": [str(unlabelled.pk)]})
    wait_for(lambda: Workout.objects.filter(pk=unlabelled.pk, model_version=run.version.name).exists())
    assert Workout.objects.get(pk=labelled[0].pk).sets.exclude(source="labelled").count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_shared_dataset_folder_imports_with_its_sets_as_labels(user, tmp_path):
    """The shared gym folders name their start times 2017-03-30T18-50-49; their sets become labels."""
    sessions = pd.read_csv(EXERMOTE / "sessions.csv").head(2)
    sets = pd.read_csv(EXERMOTE / "sets.csv")
    (tmp_path / "sessions").mkdir()
    sessions.to_csv(tmp_path / "sessions.csv", index=False)
    sets[sets.session_file.isin(sessions.session_file)].to_csv(tmp_path / "sets.csv", index=False)
    for name in sessions.session_file:
        (tmp_path / name).symlink_to(EXERMOTE / name)  # read in place, never copied
    call_command("import_recording", tmp_path, "--user", user.username)
    imported = list(labelled_recordings().order_by("started_at"))
    assert [timezone.localtime(r.started_at).strftime("%Y-%m-%dT%H-%M-%S") for r in imported] == \
        list(sessions.recording_start_local)
    first = sets[sets.session_file == sessions.session_file[0]]
    assert list(imported[0].workout.sets.order_by("ordinal").values_list("exercise_id", "reps")) == \
        list(zip(first.exercise, first.reps.astype(int)))
