"""`manage.py bench web`: a year of training for 100 athletes (about a million sets) in the
database, then the journal, workout, search and progress pages and the sets API requested one
after another over HTTP from a real uvicorn with production settings. Measured: the latency of
each (p50, p95, max) and the query plans behind search and progress.

The athletes are users named bench-web-NNN; they stay for the next run (seeding takes minutes)
until `--reseed`."""

from __future__ import annotations

import http.client
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count
from django.test import Client
from tqdm import tqdm

from config.processes import WebServer
from ingest.models import Recording
from journal.filters import ExerciseSetFilter
from journal.models import Exercise, ExerciseSet, Workout
from journal.stats import exercise_totals, weekly_totals

USER_PREFIX = "bench-web-"
EXERCISES = ["squat", "bench_press", "deadlift", "overhead_press", "pull_up", "push_up", "row", "lunge", "burpee", "sit_up",
             "dip", "curl"]
LOADED = {"squat", "bench_press", "deadlift", "overhead_press", "row", "lunge", "curl"}
WORKOUT_NOTES = ["felt strong today", "grip gave out on the last set", "tired after a long day", "new gym, crowded",
                 "knee a bit sore", "great pump", "short session before work", "deload week", "", "", "", "", ""]
SET_NOTES = ["elbow twinge", "paused reps", "slow eccentric", "belt on", "spotter helped", "wide grip", "narrow stance"]
PAGES = ["journal", "workout", "search", "progress", "api_sets"]


def bench_users():
    return get_user_model().objects.filter(username__startswith=USER_PREFIX)


def seed(users: int, days: int, rng: np.random.Generator, progress: bool) -> None:
    """`users` athletes, each training on about 5 days in 7 with their own program of 6–8
    exercises, 4–7 sets each; sets go straight in with COPY."""
    # Children first, each one DELETE: cascading from the users would load every set into memory.
    for rows in (ExerciseSet.objects, Workout.objects, Recording.objects):
        rows.filter(owner__in=bench_users()).delete()
    bench_users().delete()
    Exercise.ensure(set(EXERCISES))
    today = date.today()
    model = get_user_model()
    for index in tqdm(range(users), desc="seeding athletes", unit="athlete", disable=not progress):
        athlete = model.objects.create_user(f"{USER_PREFIX}{index:03d}", password=None)
        program = list(rng.choice(EXERCISES, size=rng.integers(6, 9), replace=False))
        base_load = {e: float(rng.integers(20, 120)) for e in program}
        recordings, workouts, sets = [], [], []
        for day in range(days):
            on = today - timedelta(days=day)
            if rng.random() > 5 / 7:
                continue
            started = datetime(on.year, on.month, on.day, int(rng.integers(6, 21)), int(rng.integers(0, 60)), tzinfo=UTC)
            recording_id = uuid.uuid4()
            recordings.append(Recording(id=recording_id, owner=athlete, rate_hz=50, channels=["gyr_x", "gyr_y", "gyr_z"],
                                        started_at=started, ended_at=started, status=Recording.Status.ENDED))
            t, ordinal = 60.0, 0
            for exercise in program:
                for _ in range(int(rng.integers(4, 8))):
                    reps = int(max(1, rng.normal(9, 3)))
                    duration = reps * float(rng.uniform(2.0, 3.5))
                    load = round(base_load[exercise] * (1 + (days - day) / days * 0.2) / 2.5) * 2.5 if exercise in LOADED else None
                    note = str(rng.choice(SET_NOTES)) if rng.random() < 0.03 else ""
                    sets.append((recording_id, athlete.pk, on, ordinal, exercise, t, t + duration, reps, load, note, float(rng.uniform(0.6, 1.0))))
                    t += duration + float(rng.uniform(60, 180))
                    ordinal += 1
            workouts.append(Workout(recording_id=recording_id, owner=athlete, date=on, started_at=started, duration_s=t,
                                    notes=str(rng.choice(WORKOUT_NOTES)), finalized_at=started, model_version="bench@1"))
        Recording.objects.bulk_create(recordings)
        Workout.objects.bulk_create(workouts)
        _copy_sets(sets)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _copy_sets(rows: list[tuple]) -> None:
    columns = ("workout_id", "owner_id", "date", "ordinal", "exercise_id", "start_s", "end_s", "reps", "weight_kg", "notes", "confidence",
               "rep_times_s", "closed", "source", "model_version", "updated_at")
    now = datetime.now(UTC)
    with connection.cursor() as cursor, cursor.cursor.copy(
            f"COPY {ExerciseSet._meta.db_table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row((*row, [], True, "machine", "bench@1", now))


def _sessions(users: list) -> dict[int, str]:
    """A logged-in session cookie per athlete, made the way a login makes it."""
    cookies = {}
    for athlete in users:
        client = Client()
        client.force_login(athlete)
        cookies[athlete.pk] = client.cookies[settings.SESSION_COOKIE_NAME].value
    return cookies


def _urls(athlete, rng: np.random.Generator, n: int) -> dict[str, list[str]]:
    """`n` requests per page, as an athlete would make them."""
    workouts = list(Workout.objects.filter(owner=athlete).values_list("pk", flat=True))
    exercises = [t["exercise"] for t in exercise_totals(athlete)]
    today = date.today()

    def month() -> tuple[date, date]:
        first = (today.replace(day=1) - timedelta(days=int(rng.integers(0, 365)))).replace(day=1)
        return first, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)

    def search() -> dict:
        first, last = month()
        return [  # the questions of the search page's examples, by turns
            {"exercise": rng.choice(exercises), "reps_min": 8, "date_after": first, "date_before": last},
            {"exercise": rng.choice(exercises), "reps_min": int(rng.integers(5, 12))},
            {"q": rng.choice(["grip", "elbow", "tired", "knee", "strong -tired"])},
            {"date_after": first, "date_before": last, "q": "grip"},
        ][int(rng.integers(0, 4))]

    return {
        "journal": [f"/?{urlencode({'month': month()[0].strftime('%Y-%m')})}" if i % 2 else "/" for i in range(n)],
        "workout": [f"/workouts/{rng.choice(workouts)}/" for _ in range(n)],
        "search": [f"/search/?{urlencode(search())}" for _ in range(n)],
        "progress": [f"/progress/?exercise={rng.choice(exercises)}" for _ in range(n)],
        "api_sets": [f"/api/sets/?{urlencode(search())}" for _ in range(n)],
    }


def _plans(athlete) -> dict[str, str]:
    """EXPLAIN ANALYZE of the queries behind the search and progress pages, as BENCHMARKS.md discusses them."""
    today = date.today()
    exercise = exercise_totals(athlete)[0]["exercise"]
    month = {"exercise": exercise, "reps_min": 8, "date_after": today - timedelta(days=60), "date_before": today - timedelta(days=30)}
    own = ExerciseSet.objects.filter(owner=athlete).newest_first()
    return {
        "search": ExerciseSetFilter(month, queryset=own).qs[:25].explain(analyze=True),
        "notes": ExerciseSetFilter({"q": "grip"}, queryset=own).qs[:25].explain(analyze=True),
        "progress_weekly": weekly_totals(athlete, exercise, today - timedelta(weeks=52)).explain(analyze=True),
        "exercise_totals": ExerciseSet.objects.filter(owner=athlete).values("exercise").annotate(n=Count("id")).order_by()
                           .explain(analyze=True),
    }


def _time(connection_: http.client.HTTPConnection, url: str, cookie: str) -> float:
    start = time.perf_counter()
    connection_.request("GET", url, headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={cookie}"})
    response = connection_.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - start
    if response.status != 200:
        raise RuntimeError(f"GET {url} answered {response.status}: {body[:300]!r}")
    return elapsed


def run(*, users: int, days: int, requests: int, reseed: bool, seed_value: int = 0, progress: bool = True) -> dict:
    rng = np.random.default_rng(seed_value)
    if reseed or bench_users().count() != users:
        seed(users, days, rng, progress)
    athletes = list(bench_users().order_by("username"))
    n_sets = ExerciseSet.objects.filter(owner__username__startswith=USER_PREFIX).count()
    sampled = [athletes[i] for i in rng.choice(len(athletes), size=min(20, len(athletes)), replace=False)]
    cookies = _sessions(sampled)
    per_user = max(1, requests // len(sampled))
    plan = [(page, url, athlete.pk) for athlete in sampled for page, urls in _urls(athlete, rng, per_user).items() for url in urls]
    rng.shuffle(plan)

    # This process's key: the sessions made above are signed with it.
    env = {"DEBUG": "0", "SECRET_KEY": settings.SECRET_KEY, "SECURE_SSL_REDIRECT": "0", "LOG_LEVEL": "WARNING"}
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=settings.BASE_DIR,
                   env={**os.environ, **env}, check=True)
    timings: dict[str, list[float]] = {page: [] for page in PAGES}
    with WebServer(env=env) as server:
        http_connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        for _page, url, user_id in plan[: len(PAGES) * 4]:  # warm-up: connections, caches, code paths
            _time(http_connection, url, cookies[user_id])
        for page, url, user_id in tqdm(plan, desc="requests", unit="req", disable=not progress):
            timings[page].append(_time(http_connection, url, cookies[user_id]))
        http_connection.close()

    def ms(values, q):
        return round(1000 * float(np.percentile(values, q)), 1)

    return {
        "users": len(athletes), "sets": n_sets, "workouts": Workout.objects.filter(owner__username__startswith=USER_PREFIX).count(),
        "requests_per_page": per_user * len(sampled), "sampled_users": len(sampled),
        "p50_ms": {page: ms(v, 50) for page, v in timings.items()},
        "p95_ms": {page: ms(v, 95) for page, v in timings.items()},
        "max_ms": {page: round(1000 * max(v), 1) for page, v in timings.items()},
        "mean_ms": {page: round(1000 * statistics.fmean(v), 1) for page, v in timings.items()},
        "plans": _plans(sampled[0]),
    }


def table(results: dict) -> str:
    lines = [f"{results['users']} users, {results['workouts']:,} workouts, {results['sets']:,} sets; "
             f"{results['requests_per_page']} requests per page over HTTP",
             f"{'page':<10} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}"]
    lines += [f"{page:<10} {results['p50_ms'][page]:>8} {results['p95_ms'][page]:>8} {results['max_ms'][page]:>8}" for page in PAGES]
    return "\n".join(lines)
