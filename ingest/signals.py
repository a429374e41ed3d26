"""What the ingest tells whoever listens (the journal's pipeline), without knowing who that is."""

from django.dispatch import Signal

# After a group of frames is durable in the archive and the streams: recording_ids=set[uuid.UUID].
frames_stored = Signal()
# After a watch ended its session: recording_id=uuid.UUID.
recording_ended = Signal()
