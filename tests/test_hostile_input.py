"""What a hostile or careless client could once do, each case against the real consumer, database,
Redis and (where one is involved) web server or worker: the system says what is wrong, keeps
what it accepted, and serves everyone else."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import re
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import numpy as np
import orjson
import pytest
import websockets
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.test import override_settings
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from classifier.gymformat import read_gym_csv
from ingest.models import Recording, new_token
from ingest.recordings import import_gym_recording
from journal.models import ExerciseSet
from tests.conftest import CHANNELS, connect, frame_message, random_samples, start_message, workout_with_sets
from tests.test_gym_csv import EXERMOTE


async def reply_to(ws, message: dict) -> dict:
    await ws.send_json_to(message)
    return await ws.receive_json_from()


async def still_open(ws, session=None) -> bool:
    """The socket still answers: a fresh session starts on it."""
    return (await reply_to(ws, start_message(session)))["type"] == "started"


# ---- the watch door -------------------------------------------------------------------------------

@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("started_at", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
                                        "1999-12-31T23:59:59+00:00", "2999-01-01T00:00:00+00:00"])
async def test_a_start_time_outside_sane_bounds_is_refused_and_nothing_is_created(token, started_at):
    ws = await connect(token)
    session = uuid.uuid4()
    reply = await reply_to(ws, {**start_message(session), "started_at": started_at})
    assert reply["type"] == "error" and reply["code"] == "invalid_message" and "started_at" in reply["detail"]
    assert not await Recording.objects.filter(id=session).aexists()
    assert await still_open(ws)
    await ws.disconnect()


@pytest.mark.django_db
def test_the_database_itself_refuses_a_start_python_could_not_read_back(user):
    recording = Recording.objects.create(owner=user, rate_hz=50, channels=CHANNELS, started_at=datetime.now(UTC))
    with pytest.raises(IntegrityError), transaction.atomic():
        Recording.objects.filter(pk=recording.pk).update(started_at=datetime(1, 1, 2, tzinfo=UTC))


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("rate_hz", ["50", True, 1e-9, 0, -50, 5, 1e9, None])
async def test_a_rate_that_is_not_a_sane_number_is_refused(token, rate_hz):
    ws = await connect(token)
    reply = await reply_to(ws, {**start_message(), "rate_hz": rate_hz})
    assert reply["type"] == "error" and reply["code"] == "invalid_message" and "rate_hz" in reply["detail"]
    assert await Recording.objects.acount() == 0 and await still_open(ws)
    await ws.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("seq", [2**31, 2**64, 2**64 + 1, 10**40])
async def test_a_seq_beyond_the_archive_is_refused_and_the_socket_stays_open(token, seq):
    ws = await connect(token)
    session = uuid.uuid4()
    await reply_to(ws, start_message(session))
    reply = await reply_to(ws, frame_message(session, seq, random_samples(5)))
    assert reply["type"] == "error" and reply["code"] == "invalid_message" and "seq" in reply["detail"]
    assert (await reply_to(ws, {"type": "end", "session": str(session), "last_seq": seq}))["code"] == "invalid_message"
    assert await reply_to(ws, frame_message(session, 0, random_samples(5))) == {"type": "ack", "session": str(session), "seq": 0}
    await ws.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_starts_are_rate_limited_per_device(token):
    with override_settings(INGEST_START_BURST=3, INGEST_MAX_STARTS_PER_MINUTE=6):
        ws = await connect(token)
        replies = [await reply_to(ws, start_message()) for _ in range(4)]
    assert [r["type"] for r in replies] == ["started"] * 3 + ["error"]
    assert replies[3]["code"] == "rate_limited" and 0 < replies[3]["retry_after_s"] <= 10
    assert await Recording.objects.acount() == 3
    await ws.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_device_revoked_while_connected_is_disconnected_and_keeps_what_was_acked(device_and_token):
    device, token = device_and_token
    with override_settings(INGEST_REVOCATION_CHECK_SECONDS=0.2):
        ws = await connect(token)
        session = uuid.uuid4()
        await reply_to(ws, start_message(session))
        assert (await reply_to(ws, frame_message(session, 0, random_samples(10))))["type"] == "ack"
        await sync_to_async(device.revoke)()
        reply = await ws.receive_json_from(timeout=5)
        assert reply["code"] == "unauthorized" and "revoked" in reply["detail"]
        assert (await ws.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4401}
    recording = await Recording.objects.aget(id=session)
    assert (await sync_to_async(recording.read_samples)()).shape == (10, 6)


def test_device_tokens_never_start_with_a_dash():
    # One in 64 urlsafe tokens once did, and `--token -318F…` reads as an option to argparse.
    assert not any(new_token().startswith("-") for _ in range(3000))


# ---- imports ------------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_a_watch_cannot_take_over_an_import_by_choosing_its_id(user):
    """Import ids were derived from the file and its owner: a watch holding the same file could
    start those sessions first and capture the import."""
    signal = read_gym_csv(EXERMOTE[0])
    attacker = get_user_model().objects.create_user("attacker")
    # The id the import once derived from the file and its owner, taken first by the attacker's watch.
    digest = hashlib.sha256(signal.samples.tobytes() + ",".join(signal.channels).encode()).hexdigest()
    derived = uuid.uuid5(uuid.UUID("5f1c3b7e-1d0a-4c55-9a39-6b1f3c2e8d10"), f"{digest}@{signal.rate_hz}/{user.pk}")
    Recording.objects.create(id=derived, owner=attacker, rate_hz=signal.rate_hz, channels=signal.channels,
                             started_at=datetime.now(UTC))
    recording, created = import_gym_recording(signal, owner=user, started_at=datetime.now(UTC))
    assert created and recording.owner == user and recording.id != derived
    assert not Recording.objects.get(id=derived).frames.exists()  # nothing of the athlete's file went to the attacker
    np.testing.assert_array_equal(recording.read_samples(), signal.samples)
    # Importing the file again is still the same recording; another athlete's import is their own.
    again, created = import_gym_recording(signal, owner=user, started_at=datetime.now(UTC))
    assert (again.id, created) == (recording.id, False)
    theirs, created = import_gym_recording(signal, owner=attacker, started_at=datetime.now(UTC))
    assert created and theirs.id != recording.id
    # The ids are random, not a function of the file: two fresh databases would not share them.
    assert recording.id.version == 4


def _gz(text: str) -> bytes:
    return gzip.compress(text.encode())


def _csv(rows: list[str]) -> str:
    return "t,gyr_x,gyr_y,gyr_z\n" + "\n".join(rows) + "\n"


GOOD_ROWS = [f"{i / 50:.2f},1.0,2.0,3.0" for i in range(200)]
BAD_FILES = {
    "random bytes named .csv.gz": ("bad.csv.gz", b"\x00\x01 this is not gzip at all" * 10, "not a readable CSV"),
    "truncated gzip": ("cut.csv.gz", _gz(_csv(GOOD_ROWS))[:120], "not a readable CSV"),
    "gzip of binary junk": ("junk.csv.gz", gzip.compress(bytes(range(256)) * 20), "cannot be imported"),
    "NaN": ("nan.csv", _csv([*GOOD_ROWS[:100], "2.00,nan,1,1", *GOOD_ROWS[101:]]).encode(), "NaN"),
    "infinity": ("inf.csv", _csv([*GOOD_ROWS[:100], "2.00,inf,1,1", *GOOD_ROWS[101:]]).encode(), "NaN or ±Infinity"),
    "1e300": ("huge.csv", _csv([*GOOD_ROWS[:100], "2.00,1e300,1,1", *GOOD_ROWS[101:]]).encode(), "beyond ±"),
    "a rate no watch has": ("slow.csv", _csv([f"{i * 10},1,2,3" for i in range(50)]).encode(), "Hz"),
    "a stray time": ("gap.csv", _csv([*GOOD_ROWS, "100000000,1,2,3"]).encode(), "far more than"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_an_import_the_watch_door_would_refuse_gets_a_form_error_and_stores_nothing(client, user, case):
    from django.core.files.uploadedfile import SimpleUploadedFile

    name, content, says = BAD_FILES[case]
    client.force_login(user)
    answer = client.post("/import/", {"file": SimpleUploadedFile(name, content)})
    assert answer.status_code == 200
    errors = answer.context["form"].errors["file"]
    assert any(says in error and name in error for error in errors), errors
    assert Recording.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_the_import_command_refuses_the_same_values_with_a_clear_message(user, tmp_path):
    from django.core.management import CommandError, call_command

    path = tmp_path / "nan.csv"
    path.write_bytes(BAD_FILES["NaN"][1])
    with pytest.raises(CommandError, match="NaN"):
        call_command("import_recording", str(path), "--user", user.username)
    assert Recording.objects.count() == 0


# ---- the journal's doors --------------------------------------------------------------------------

@pytest.fixture
def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("weight", [1e308, 1001, -1, "NaN", "Infinity"])
def test_one_limit_on_the_load_for_every_door(api, client, user, weight):
    workout = workout_with_sets(user, date.today(), [("squat", 10)])
    exercise_set = workout.sets.get()
    answer = api.patch(f"/api/sets/{exercise_set.pk}/", {"weight_kg": weight}, format="json")
    assert answer.status_code == 400 and "weight_kg" in answer.json()
    client.force_login(user)
    client.post(f"/sets/{exercise_set.pk}/edit", {"exercise": "squat", "reps": 10, "weight_kg": weight})
    exercise_set.refresh_from_db()
    assert exercise_set.weight_kg is None
    assert api.get("/api/stats/squat/").status_code == 200 and client.get("/progress/").status_code == 200
    with pytest.raises(IntegrityError), transaction.atomic():  # and the database keeps it for any other door
        ExerciseSet.objects.filter(pk=exercise_set.pk).update(weight_kg=1e308)


@pytest.mark.django_db
@pytest.mark.parametrize("month", ["9999-12", "0001-01", "10000-01", "2026-13", "-1-1", "x"])
def test_any_month_in_the_calendar_link_answers(client, user, month):
    client.force_login(user)
    answer = client.get("/", {"month": month})
    assert answer.status_code == 200 and answer.context["month"]["first"] == date.today().replace(day=1)


@pytest.mark.django_db
def test_an_empty_reps_range_is_said_to_be_empty(client, api, user):
    workout_with_sets(user, date.today(), [("squat", 10)])
    client.force_login(user)
    page = client.get("/search/", {"reps_min": 12, "reps_max": 3}).content.decode()
    assert "no number of reps is both" in page and "No sets yet" not in page
    assert api.get("/api/sets/", {"reps_min": 12, "reps_max": 3}).status_code == 400
    page = client.get("/search/", {"date_after": "2026-10-10", "date_before": "2026-10-01"}).content.decode()
    assert "ends before it starts" in page
    # A valid search that finds nothing is not "no sets yet" either.
    assert "No set matches" in client.get("/search/", {"date_after": "2001-01-01", "date_before": "2001-01-02"}).content.decode()


@pytest.mark.django_db
def test_an_anonymous_api_call_is_told_to_authenticate(client):
    answer = client.get("/api/workouts/")
    assert answer.status_code == 401 and answer.headers["WWW-Authenticate"] == "Token"


@pytest.mark.django_db
def test_the_favicon_is_found(client):
    answer = client.get("/favicon.ico")
    assert answer.status_code == 301 and re.fullmatch(r"/static/web/icon(\.\w+)?\.svg", answer.url)


# ---- the pipeline and the admin, meeting a recording that cannot be processed ---------------------

def _archive_quietly(owner, samples: np.ndarray, channels: list[str], *, payload: bytes | None = None) -> Recording:
    """A recording whose frames reached the archive an hour ago and whose trigger was lost: only
    the sweep will ever finalise it."""
    from ingest.models import SAMPLE_DTYPE, Frame

    recording = Recording.objects.create(owner=owner, rate_hz=50, channels=channels, started_at=datetime.now(UTC))
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    Frame.objects.bulk_create([
        Frame(recording=recording, seq=seq, n_samples=len(chunk), received_at=long_ago,
              samples=payload if payload is not None else chunk.astype(SAMPLE_DTYPE).tobytes())
        for seq, chunk in enumerate(np.array_split(samples, max(1, len(samples) // 50)))
    ])
    return recording


@pytest.mark.django_db(transaction=True)
def test_a_recording_that_cannot_be_processed_holds_up_no_other_athletes_final_pass(server_env, user, admin_client):
    from config.processes import CeleryProcesses
    from journal.models import Workout

    other = get_user_model().objects.create_user("other athlete")
    signal = read_gym_csv(EXERMOTE[0])
    broken = _archive_quietly(user, signal.samples[:500], signal.channels, payload=b"\x00" * 7)  # not whole samples
    healthy = _archive_quietly(other, signal.samples[:3000], signal.channels)
    with CeleryProcesses(env={**server_env, "PIPELINE_SWEEP_SECONDS": "1", "PIPELINE_QUIET_SECONDS": "1"}):
        deadline = datetime.now() + timedelta(seconds=120)
        while not Workout.objects.filter(pk=healthy.pk, finalized_at__isnull=False).exists():
            assert datetime.now() < deadline, "the healthy recording was never finalised"
            time.sleep(0.5)
    assert not Workout.objects.filter(pk=broken.pk, finalized_at__isnull=False).exists()
    # The admin still lists and opens everyone's recordings, the broken one included.
    assert admin_client.get("/admin/ingest/recording/").status_code == 200
    assert admin_client.get(f"/admin/ingest/recording/{broken.pk}/change/").status_code == 200
    assert admin_client.get(f"/label/{healthy.pk}/").status_code == 200
    damaged = admin_client.get(f"/api/recordings/{broken.pk}/signal/")  # said, not a 500
    assert damaged.status_code == 409 and "frame 0 holds 7 bytes, not whole samples" in damaged.json()["detail"]


# ---- the live page ----------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_a_quiet_live_page_stays_connected(web_server, user, client):
    """redis-py 8 reads with a 5-s timeout and channels-redis waits 5 s for a message: the live
    page's socket died every ~6 s while nothing happened."""
    recording = Recording.objects.create(owner=user, rate_hz=50, channels=CHANNELS, started_at=datetime.now(UTC))
    client.force_login(user)
    url = f"{web_server.ws_url.removesuffix('/ws/ingest/')}/ws/workouts/{recording.pk}/"

    async def listen() -> list[dict]:
        async with websockets.connect(url, origin=web_server.http_url,
                                      additional_headers={"Cookie": f"sessionid={client.cookies['sessionid'].value}"}) as ws:
            updates = [orjson.loads(await ws.recv())]  # the page as it is, sent on connecting
            with pytest.raises(TimeoutError):  # nothing happens for three of channels-redis' waits…
                await asyncio.wait_for(ws.recv(), timeout=16)
            await (await ws.ping())  # …and the socket is still there
            return updates

    updates = asyncio.run(listen())
    assert updates[0]["ended"] is False and "Start your first set" in updates[0]["html"]


# ---- fuzz: random starts and frames, then the sweep and the admin ---------------------------------

SESSIONS = [uuid.UUID(int=i) for i in range(1, 4)]
anything = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
                     st.text(max_size=6), st.lists(st.integers(), max_size=2))
offsets = st.sampled_from(["Z", "+14:00", "-14:00", "+05:30", ""])
bad_instants = st.one_of(st.builds(lambda day, offset: day.isoformat() + offset,
                                   st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)), offsets),
                         anything)
bad_channels = st.one_of(st.lists(st.sampled_from([*CHANNELS, "mag_x", ""]), max_size=7), anything)
bad_rates = st.one_of(st.floats(allow_nan=True, allow_infinity=True), anything)


@st.composite
def mostly(draw, good, bad):
    """A good value seven times in eight: the messages must get far enough to store frames."""
    return draw(good) if draw(st.integers(0, 7)) else draw(bad)


@st.composite
def watch_messages(draw, kinds=("start", "frame", "frame", "frame", "end")) -> dict:
    kind = draw(st.sampled_from(kinds))
    message = {"type": kind, "session": str(draw(mostly(st.just(SESSIONS[0]), st.sampled_from(SESSIONS))))}
    if kind == "start":
        message |= {"rate_hz": draw(mostly(st.sampled_from([50, 25.0, 100, 400, 10]), bad_rates)),
                    "channels": draw(mostly(st.sampled_from([CHANNELS, CHANNELS[3:], CHANNELS[:3]]), bad_channels)),
                    "started_at": draw(mostly(st.just(datetime.now(UTC).isoformat()), bad_instants))}
    elif kind == "frame":
        width = draw(mostly(st.just(6), st.sampled_from([3, 2, 7])))
        rows = st.lists(st.lists(st.floats(-2000, 2000, width=32), min_size=width, max_size=width), min_size=1, max_size=200)
        message |= {"seq": draw(mostly(st.sampled_from([0, 0, 1, 2]), st.integers(-3, 2**70) | anything)),
                    "samples": draw(mostly(rows, anything))}
    else:
        message["last_seq"] = draw(mostly(st.integers(-1, 3), anything))
    if draw(st.integers(0, 9)) == 0:  # now and then a field goes missing
        message.pop(draw(st.sampled_from(sorted(message))))
    return message


@pytest.mark.django_db(transaction=True)
@given(messages=st.builds(lambda first, rest: [first, *rest], watch_messages(kinds=["start"]),
                          st.lists(watch_messages(), max_size=16)))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_whatever_watches_send_the_sweep_finalises_everything_and_every_page_answers(token, admin_client, monkeypatch, messages):
    from journal import tasks
    from journal.models import Workout

    Recording.objects.filter(id__in=SESSIONS).delete()  # the database outlives each example

    async def send_all() -> list[dict]:
        ws = await connect(token)
        replies = []
        for message in messages:
            await ws.send_to(text_data=json.dumps(message, allow_nan=True))
            replies.append(await ws.receive_json_from(timeout=5))
        await ws.disconnect()
        return replies

    with override_settings(INGEST_START_BURST=1000, PIPELINE_QUIET_SECONDS=0):
        replies = asyncio.run(send_all())
        assert all(r["type"] in {"started", "ack", "ended", "error"} for r in replies)
        assert all(r["detail"] for r in replies if r["type"] == "error")
        # The sweep as beat runs it, its tasks run here: every recording that has frames gets its final pass.
        monkeypatch.setattr(tasks.process_recordings, "delay", lambda *a, **k: tasks.process_recordings.apply(a, k))
        tasks.sweep_recordings()
    with_frames = Recording.objects.filter(id__in=SESSIONS, frames__isnull=False).distinct()
    assert not with_frames.filter(workout__finalized_at__isnull=True).exists()
    event(f"recordings finalised: {with_frames.count()}")
    assert admin_client.get("/admin/ingest/recording/").status_code == 200
    assert admin_client.get("/admin/journal/workout/").status_code == 200
    for recording in Recording.objects.filter(id__in=SESSIONS):
        for url in (f"/admin/ingest/recording/{recording.pk}/change/", f"/label/{recording.pk}/",
                    f"/api/recordings/{recording.pk}/signal/", f"/api/recordings/{recording.pk}/labels/"):
            assert admin_client.get(url).status_code == 200, url
        if Workout.objects.filter(pk=recording.pk).exists():
            assert admin_client.get(f"/admin/journal/workout/{recording.pk}/change/").status_code == 200


# ---- found trying it as a new user would ------------------------------------------------------

@pytest.mark.django_db
def test_the_live_page_speaks_to_the_athlete_it_has(client, user, device_and_token):
    client.force_login(user)
    waiting = client.get("/live/").content.decode()
    assert "No watch yet" not in waiting and "import a recording" in waiting
    device_and_token[0].revoke()
    assert "No watch yet" in client.get("/live/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_an_imported_recording_is_not_called_live(client, user):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(user)
    answer = client.post("/import/", {"file": SimpleUploadedFile("mine.csv", _csv(GOOD_ROWS).encode())}, follow=True)
    page = answer.content.decode()
    assert "Imported recording" in page and "Live workout" not in page
    assert "Start your first set" not in page and "the workers are reading the recording" in page


@pytest.mark.django_db
def test_a_set_is_split_at_the_time_the_table_shows(client, user):
    workout = workout_with_sets(user, date.today(), [("squat", 10)])  # 0:00–0:30
    exercise_set = workout.sets.get()
    client.force_login(user)
    page = client.get(f"/workouts/{workout.pk}/").content.decode()
    assert 'value="0:15"' in page and "between 0:00 and 0:30" in page
    client.post(f"/sets/{exercise_set.pk}/split", {"at_s": "0:12"})
    assert [(s.start_s, s.end_s) for s in workout.sets.order_by("ordinal")] == [(0, 12), (12, 30)]
    refused = client.post(f"/sets/{workout.sets.first().pk}/split", {"at_s": "0:75"}, follow=True).content.decode()
    assert "is not a time into the workout" in refused and workout.sets.count() == 2


def test_the_timeline_labels_every_set_without_clipping_it():
    from types import SimpleNamespace

    from web.charts import timeline

    def a_set(ordinal, start, end, name="Squat"):
        return SimpleNamespace(ordinal=ordinal, start_s=start, end_s=end, reps=10, rep_times_s=[], arm_still=False, exercise_id=name.lower(),
                               exercise=SimpleNamespace(name=name))

    svg = timeline([a_set(0, 0, 60), a_set(1, 70, 80, "Lateral raise"), a_set(2, 85, 95), a_set(3, 290, 299)], 300)
    assert ">1. Squat × 10</text>" in svg  # room until the next set: the whole label
    assert ">2</text>" in svg and ">2. Lateral raise" not in svg  # no room before set 3: the number alone
    assert ">4. Squat × 10</text>" in svg  # the last set, at the very end, is labelled too (shifted left to fit)
    assert "fill:#fff;font" not in svg  # labels are dark on a white halo, not white on the set's colour


def test_a_live_page_notice_after_a_redis_restart_goes_out_on_a_fresh_connection(embedded_services):
    from asgiref.sync import async_to_sync
    from journal import notices

    recording_id = uuid.uuid4()
    async_to_sync(notices.page_opened)(recording_id, "a-page")  # so that its notices go through the channel layer
    notices.sets_changed(recording_id)  # the notice loop's pool now holds a connection…
    embedded_services.redis.stop()
    embedded_services.redis.start()  # …that died with Redis (its AOF kept the open page)
    assert notices.sets_changed(recording_id) is None  # sent, on a fresh connection, instead of raising


def test_a_sets_notice_reaches_a_live_page_while_it_is_open_and_no_one_otherwise(embedded_services):
    """Only workouts with a page registered are told: still in the group but closed, a page hears nothing."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer
    from journal import notices

    recording_id, layer = uuid.uuid4(), get_channel_layer()

    async def notice_heard(channel) -> bool:
        await sync_to_async(notices.sets_changed)(recording_id)
        try:
            return (await asyncio.wait_for(layer.receive(channel), timeout=2))["type"] == "sets.changed"
        except asyncio.TimeoutError:
            return False

    async def scenario() -> list[bool]:
        channel = await layer.new_channel()
        await layer.group_add(notices.workout_group(recording_id), channel)
        heard = [await notice_heard(channel)]
        await notices.page_opened(recording_id, channel)
        heard.append(await notice_heard(channel))
        await notices.page_closed(recording_id, channel)
        heard.append(await notice_heard(channel))
        return heard

    assert async_to_sync(scenario)() == [False, True, False]
