"""Activities that write request progress into the SQL read model."""

from __future__ import annotations

from sqlalchemy import Engine
from temporalio import activity

from schemas.projection import RecordProgressInput, RecordProgressOutput
from store.db import transaction
from store.read_model import write_progress


class ReadModelActivities:
    """Projection of workflow state into SQL; every write is idempotent."""

    def __init__(self, engine: Engine) -> None:
        """Use this engine for every write."""
        self.engine = engine

    @activity.defn(name="record_request_progress")
    def record_request_progress(self, progress: RecordProgressInput) -> RecordProgressOutput:
        """Write the request row, its levels, new audit events and inbox entries."""
        with transaction(self.engine) as session:
            return write_progress(session, progress)
