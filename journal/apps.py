from django.apps import AppConfig


class JournalConfig(AppConfig):
    name = "journal"
    verbose_name = "Workout journal"

    def ready(self):
        from django.db.models.signals import pre_delete

        from ingest.signals import frames_stored, recording_ended
        from journal.athlete_memory import workout_deleted
        from journal.models import Workout
        from journal.triggers import on_frames_stored, on_recording_ended

        frames_stored.connect(on_frames_stored, dispatch_uid="journal.pipeline")
        recording_ended.connect(on_recording_ended, dispatch_uid="journal.pipeline")
        pre_delete.connect(workout_deleted, sender=Workout, dispatch_uid="journal.athlete_memory")
