"""Imported recordings get random ids and an import key (a watch could choose the old derived
ids first); starts outside 2000..2200 are refused by the database. Rows already outside are
moved to when they were created, so the constraint can be added and Python can read them."""

import ingest.models
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('ingest', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunSQL(
            "UPDATE ingest_recording SET started_at = created_at "
            "WHERE started_at < '2000-01-01T00:00:00Z' OR started_at >= '2200-01-01T00:00:00Z'",
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.AddField(
            model_name='recording',
            name='import_key',
            field=models.CharField(blank=True, editable=False, help_text="An imported file's digest (samples, channels, rate): the same file again is this recording.", max_length=64, null=True),
        ),
        migrations.AlterField(
            model_name='recording',
            name='started_at',
            field=models.DateTimeField(validators=[ingest.models.validate_started_at]),
        ),
        migrations.AddConstraint(
            model_name='recording',
            constraint=models.UniqueConstraint(fields=('owner', 'import_key'), name='one_recording_per_imported_file'),
        ),
        migrations.AddConstraint(
            model_name='recording',
            constraint=models.CheckConstraint(condition=models.Q(('started_at__gte', '2000-01-01T00:00:00Z'), ('started_at__lt', '2200-01-01T00:00:00Z')), name='started_at_in_range'),
        ),
    ]
