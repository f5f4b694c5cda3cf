"""How ApprovalWorkflow publishes its state: the SQL read model (a regular activity), the
notifications of new events, search attributes and current details; and how handlers, closing
and continue-as-new wait for it."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.notifications import NotificationActivities
    from activities.read_model import ReadModelActivities
    from approvals.machine import RequestMachine
    from approvals.summary import describe, notice, search_attribute_values, without_audit
    from schemas.approval import AuditEvent
    from schemas.notifications import NotifyInput
    from schemas.projection import RecordProgressInput

# Writes to SQL must never be lost: retry until the database is back. A write takes
# milliseconds; a short timeout gets a write lost with a crashed worker retried soon.
SQL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)
)
SQL_TIMEOUT = timedelta(seconds=10)
# Notifications wait out an SMTP or webhook outage: nothing is dropped.
_NOTIFY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=5)
)

# Two changes made replay safe under load and restarts. The read model used to be written by
# a local activity: live, its result arrived after the updates and signals of the same task, in
# replay before them, so code after the write (search attributes, the next timer) could differ.
# A regular activity's result has its own place in history. And deadlines fired on
# workflow.now(), once seen stale live (see ApprovalWorkflow._deadline_came): now their timers
# decide.
_REPLAY_SAFE = "read-model-by-activity-and-timer-driven-deadlines"


class RequestPublisher:
    """The publishing half of ApprovalWorkflow: its state is the machine it publishes."""

    def __init__(self) -> None:
        """Nothing published yet; what the starter set as search attributes is known."""
        self._machine: RequestMachine | None = None
        # What the starter already set (org, template, status...) need not be upserted again.
        self._shown: dict[str, Any] = {
            pair.key.name: pair.value for pair in workflow.info().typed_search_attributes
        }
        self._details = ""
        self._notifying: list[asyncio.Task[None]] = []
        self._quiescing = False

    @staticmethod
    def _replay_safe() -> bool:
        """False only in histories recorded before the read model's regular activity and
        timer-driven deadlines."""
        return workflow.patched(_REPLAY_SAFE)

    async def _handlers_finished(self) -> bool:
        """Wait until every handler has finished (True) or events await publishing (False)."""
        if not self._replay_safe():  # such handlers never waited for publishing
            await workflow.wait_condition(workflow.all_handlers_finished)
            return True
        await workflow.wait_condition(
            lambda: workflow.all_handlers_finished() or self._unpublished()
        )
        return not self._unpublished()

    async def _quiesce(self) -> None:
        """Let handlers and notifications finish before continuing as new."""
        if not self._replay_safe():
            await workflow.wait_condition(workflow.all_handlers_finished)
            await self._publish()
            await asyncio.gather(*self._notifying)
            return
        # Decisions from now on are not waited for: the next run publishes them first thing.
        # Waiting would let a steady stream of decisions put continue-as-new off forever.
        self._quiescing = True
        await workflow.wait_condition(
            lambda: workflow.all_handlers_finished() and all(t.done() for t in self._notifying)
        )

    def _settled(self) -> bool:
        """Nothing left to publish, and (when handlers wait for publishing) none running."""
        if self._unpublished():
            return False
        return not self._replay_safe() or workflow.all_handlers_finished()

    async def _published(self, events: list[AuditEvent]) -> None:
        """Return once `events` are in the read model: a caller's next read shows them."""
        if events and self._replay_safe():
            assert self._machine is not None
            state, last = self._machine.state, events[-1].seq
            await workflow.wait_condition(lambda: state.published_seq >= last or self._quiescing)

    def _unpublished(self) -> bool:
        assert self._machine is not None
        state = self._machine.state
        return bool(state.audit) and state.audit[-1].seq > state.published_seq

    async def _publish(self) -> None:
        """Write new events to the read model, then refresh what operators see."""
        assert self._machine is not None
        state = self._machine.state
        new = [e for e in state.audit if e.seq > state.published_seq]
        if new:
            # Histories recorded before the patch published with a local activity.
            execute = (
                workflow.execute_activity_method
                if self._replay_safe()
                else workflow.execute_local_activity_method
            )
            await execute(
                ReadModelActivities.record_request_progress,
                RecordProgressInput(request=without_audit(state), events=new),
                start_to_close_timeout=SQL_TIMEOUT,
                retry_policy=SQL_RETRY,
            )
            state.published_seq = max(state.published_seq, new[-1].seq)
            # Sent in the background: a slow mail relay must not hold back the request.
            told = NotifyInput(
                request=notice(state, self._machine.cal.snapshot.timezone), events=new
            )
            self._notifying = [t for t in self._notifying if not t.done()]
            self._notifying.append(asyncio.create_task(self._notify(told)))
        changed = [
            pair
            for pair in search_attribute_values(state)
            if self._shown.get(pair.key.name) != pair.value
        ]
        if changed:
            workflow.upsert_search_attributes(changed)
            self._shown.update({pair.key.name: pair.value for pair in changed})
        details = describe(state, self._machine.cal)
        if details != self._details:
            workflow.set_current_details(details)
            self._details = details

    async def _notify(self, told: NotifyInput) -> None:
        await workflow.execute_activity_method(
            NotificationActivities.deliver_notifications,
            told,
            start_to_close_timeout=timedelta(minutes=2),
            # The activity heartbeats while it works: a dead worker's attempt is retried soon.
            heartbeat_timeout=timedelta(seconds=10),
            retry_policy=_NOTIFY_RETRY,
        )
