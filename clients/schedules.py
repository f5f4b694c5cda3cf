"""Create-or-update of Temporal Schedules, shared by the reply poller and the AP mailboxes."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)


def every(seconds: int) -> ScheduleSpec:
    """A spec that fires every `seconds`."""
    return ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=seconds))])


async def put_schedule(client: Client, schedule_id: str, schedule: Schedule) -> bool:
    """Create the Schedule, or replace an existing one's definition; True when created."""
    try:
        await client.create_schedule(schedule_id, schedule)
        return True
    except ScheduleAlreadyRunningError:

        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(schedule_id).update(replace)
        return False
