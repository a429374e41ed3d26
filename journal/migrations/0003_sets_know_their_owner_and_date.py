"""Copy each set's workout owner and date onto the set, for the indexes the search and progress
pages read (journal/models.py explains why)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("journal", "0002_corrections_and_search"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="exerciseset", name="owner",
            field=models.ForeignKey(db_index=False, editable=False, null=True, on_delete=django.db.models.deletion.CASCADE,
                                    related_name="exercise_sets", to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(model_name="exerciseset", name="date", field=models.DateField(editable=False, null=True)),
        migrations.RunSQL(
            "UPDATE journal_exerciseset s SET owner_id = w.owner_id, date = w.date "
            "FROM journal_workout w WHERE s.workout_id = w.recording_id",
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.AlterField(
            model_name="exerciseset", name="owner",
            field=models.ForeignKey(db_index=False, editable=False, on_delete=django.db.models.deletion.CASCADE,
                                    related_name="exercise_sets", to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(model_name="exerciseset", name="date", field=models.DateField(editable=False)),
        migrations.AddIndex(
            model_name="exerciseset",
            index=models.Index(fields=["owner", "exercise", "date"], include=["reps", "weight_kg"], name="set_owner_exercise_date"),
        ),
        migrations.AddIndex(model_name="exerciseset", index=models.Index(fields=["owner", "-date"], name="set_owner_date")),
    ]
