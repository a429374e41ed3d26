"""Workouts and sets follow their recordings' repaired start times (ingest 0002). One limit on reps and load for every door, kept by the database too (loads beyond it, which
only an API client could enter, are cleared rather than kept as impossible numbers); and who
made each label: the labeller who marked the workout, else its athlete."""

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('journal', '0007_workout_segmenter_state'),
        ('ingest', '0002_import_keys_and_sane_starts'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    # Each data UPDATE ends with SET CONSTRAINTS ALL IMMEDIATE: it runs the deferred foreign-key
    # checks the UPDATE queued, without which PostgreSQL refuses the ALTER TABLEs that follow
    # ("pending trigger events") on a database with rows.
    operations = [
        migrations.RunSQL(  # a workout copies its recording's start: repaired there, repaired here
            "UPDATE journal_workout w SET started_at = r.started_at, date = (r.started_at AT TIME ZONE 'UTC')::date "
            "FROM ingest_recording r WHERE w.recording_id = r.id "
            "AND (w.started_at < '2000-01-01T00:00:00Z' OR w.started_at >= '2200-01-01T00:00:00Z'); "
            "UPDATE journal_exerciseset s SET date = w.date FROM journal_workout w "
            "WHERE s.workout_id = w.recording_id AND s.date <> w.date; SET CONSTRAINTS ALL IMMEDIATE",
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.RunSQL(
            "UPDATE journal_exerciseset SET weight_kg = NULL WHERE weight_kg < 0 OR weight_kg > 1000 OR weight_kg = 'NaN'; "
            "UPDATE journal_exerciseset SET reps = 1000 WHERE reps > 1000; SET CONSTRAINTS ALL IMMEDIATE",
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.AddField(
            model_name='exerciseset',
            name='labelled_by',
            field=models.ForeignKey(blank=True, db_index=False, help_text='Who made it a label: the athlete, or a labeller.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.RunSQL(
            "UPDATE journal_exerciseset s SET labelled_by_id = COALESCE(w.labelled_by_id, w.owner_id) "
            "FROM journal_workout w WHERE s.workout_id = w.recording_id AND s.source = 'labelled'; SET CONSTRAINTS ALL IMMEDIATE",
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.AlterField(
            model_name='exerciseset',
            name='reps',
            field=models.PositiveSmallIntegerField(validators=[django.core.validators.MaxValueValidator(1000)]),
        ),
        migrations.AlterField(
            model_name='exerciseset',
            name='weight_kg',
            field=models.FloatField(blank=True, help_text='The load, when the athlete enters it.', null=True, validators=[django.core.validators.MinValueValidator(0), django.core.validators.MaxValueValidator(1000.0)]),
        ),
        migrations.AddConstraint(
            model_name='exerciseset',
            constraint=models.CheckConstraint(condition=models.Q(('reps__lte', 1000)), name='reps_in_range'),
        ),
        migrations.AddConstraint(
            model_name='exerciseset',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('weight_kg__gte', 0), ('weight_kg__lte', 1000.0)), ('weight_kg__isnull', True), _connector='OR'), name='weight_in_range'),
        ),
    ]
