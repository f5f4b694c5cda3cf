"""ApprovalWorkflow: one business request, its approval levels, TAT timers and overrides.

The rules live in approvals.machine (pure); this class only wires them to Temporal: updates
with validators, a signal for fire-and-forget senders, a query, durable timers, the read-model
activity, search attributes and the current-details summary.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.approval_publishing import SQL_RETRY, SQL_TIMEOUT, RequestPublisher

with workflow.unsafe.imports_passed_through():
    from activities.directory import DirectoryActivities
    from approvals.core import Refused
    from approvals.machine import RequestMachine
    from approvals.summary import without_audit
    from bizcal.calendar import BusinessCalendar
    from schemas.approval import (
        REFUSAL_TYPES,
        ActorInput,
        ApprovalInput,
        ApprovalResult,
        ApproveInput,
        AuditEvent,
        CancelInput,
        CommentInput,
        DecisionSignal,
        InsertLevelInput,
        OpenedInput,
        PauseInput,
        ReassignInput,
        RejectInput,
        RequestState,
        ResumeInput,
        SkipLevelInput,
        StateQuery,
        UpdateResult,
        WithdrawInput,
    )
    from schemas.projection import ResolveApproversInput

_SOONEST_SECONDS = 0.001  # the timer of a deadline already past


def _mark_origin(events: list[AuditEvent], actor: str, origin: dict[str, str | None]) -> None:
    """The audit trail says where the actor's own acts came from (an IP, an e-mail)."""
    known = {key: value for key, value in origin.items() if value is not None}
    for event in events:
        if event.actor == actor:
            event.detail.update(known)


def _refusal(refused: Refused) -> ApplicationError:
    return ApplicationError(refused.reason, type=REFUSAL_TYPES[refused.kind], non_retryable=True)


@workflow.defn(name="ApprovalWorkflow")
class ApprovalWorkflow(RequestPublisher):
    """A request from start to its final status; see approvals.machine for the rules."""

    @workflow.init
    def __init__(self, inp: ApprovalInput) -> None:
        """Build the machine at once unless approver roles still need resolving."""
        super().__init__()
        if inp.resume_state is not None:
            self._machine = RequestMachine(inp.resume_state, BusinessCalendar(inp.calendar))
        elif not self._roles(inp):
            self._machine = RequestMachine.open(
                workflow.info().workflow_id, inp, {}, workflow.now()
            )

    @staticmethod
    def _roles(inp: ApprovalInput) -> list[str]:
        return sorted({lv.approvers.role for lv in inp.template.levels if lv.approvers.role})

    @workflow.run
    async def run(self, inp: ApprovalInput) -> ApprovalResult:
        """Wait for decisions and deadlines until the request reaches a final status."""
        if self._machine is None:
            resolved = await workflow.execute_activity_method(
                DirectoryActivities.resolve_approvers,
                ResolveApproversInput(org_id=inp.org_id, roles=self._roles(inp)),
                start_to_close_timeout=SQL_TIMEOUT,
                retry_policy=SQL_RETRY,
            )
            self._machine = RequestMachine.open(
                workflow.info().workflow_id, inp, resolved.members, workflow.now()
            )
        machine = self._machine
        while True:
            # Histories from before the patch judged deadlines on the clock read before their
            # local activity (its result moved workflow.now() on differently in replay).
            now = workflow.now()
            await self._publish()
            if not machine.state.is_open:
                # Handlers wait for their events to be published: publish again for them.
                if not await self._handlers_finished():
                    continue
                await asyncio.gather(*self._notifying)
                if not self._settled():
                    continue
                state = machine.state
                assert state.closed_at is not None
                return ApprovalResult(
                    request_id=state.request_id,
                    status=state.status,
                    reason=state.outcome_reason,
                    closed_at=state.closed_at,
                )
            if workflow.info().is_continue_as_new_suggested():
                await self._quiesce()
                carried = machine.state.model_copy(update={"runs": machine.state.runs + 1})
                workflow.continue_as_new(inp.model_copy(update={"resume_state": carried}))
            due, label = machine.next_due(), machine.next_due_label()
            if not self._replay_safe():
                machine.fire_due(await self._wait_for_change_or(due, label, now))
            elif due is None:
                await workflow.wait_condition(self._unpublished)
            elif await self._deadline_came(due, label):
                # What fires is what its timer was for; only the time recorded reads the clock.
                machine.fire_due(max(workflow.now(), due), until=due)

    async def _deadline_came(self, due: datetime, label: str) -> bool:
        """Wait for a change or for `due`: True when `due` came first (its timer fired).

        A timer starts even for a deadline already past: whether one starts must not depend on
        workflow.now(), which a cached workflow was seen to get a task behind (live, never in
        replay) in its first task after a Temporal server restart.
        """
        wait = max((due - workflow.now()).total_seconds(), _SOONEST_SECONDS)
        try:
            await workflow.wait_condition(self._unpublished, timeout=wait, timeout_summary=label)
        except TimeoutError:
            return True
        return False

    async def _wait_for_change_or(
        self, due: datetime | None, label: str, now: datetime
    ) -> datetime:
        """Before the patch: wait for a change or until `due`; the time to act at: `now` if
        nothing was awaited."""
        if due is None:
            await workflow.wait_condition(self._unpublished)
            return workflow.now()
        wait = (due - now).total_seconds()
        if wait <= 0:
            return now
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(self._unpublished, timeout=wait, timeout_summary=label)
        return workflow.now()

    # ---- handlers ----------------------------------------------------------------------------

    def _check(self, check: Callable[[RequestMachine], object]) -> None:
        # Before roles are resolved there is nothing to check against; the handler checks again.
        if self._machine is None:
            return
        machine = self._machine
        due = machine.next_due()
        if due is not None and due <= workflow.now():
            # A deadline passed unprocessed (worker down, activity in flight): judge the
            # decision on the state as it will be once the handler has fired it.
            machine = RequestMachine(machine.state.model_copy(deep=True), machine.cal)
            machine.fire_due(workflow.now())
        try:
            check(machine)
        except Refused as refused:
            raise _refusal(refused) from None

    async def _apply(
        self, change: Callable[[RequestMachine, datetime], None], caller: ActorInput
    ) -> UpdateResult:
        await workflow.wait_condition(lambda: self._machine is not None)
        machine = self._machine
        assert machine is not None
        before = machine.state.audit[-1].seq
        # Deadlines that fell due before this decision arrived are acted on first.
        machine.fire_due(workflow.now())
        try:
            change(machine, workflow.now())
        except Refused as refused:
            raise _refusal(refused) from None
        events = [e for e in machine.state.audit if e.seq > before]
        _mark_origin(events, caller.actor, {"ip": caller.ip})
        result = UpdateResult(request=without_audit(machine.state), events=events)
        await self._published(events)
        return result

    @workflow.update
    async def opened(self, inp: OpenedInput) -> UpdateResult:
        """The state once approvers are resolved: callers start with this (update-with-start)."""
        await workflow.wait_condition(lambda: self._machine is not None)
        assert self._machine is not None
        state = self._machine.state
        opened = UpdateResult(request=without_audit(state), events=list(state.audit))
        await self._published(opened.events)
        return opened

    @workflow.update
    async def approve(self, inp: ApproveInput) -> UpdateResult:
        """An approver approves the current level."""
        return await self._apply(lambda m, now: m.approve(inp, now), inp)

    @approve.validator
    def _validate_approve(self, inp: ApproveInput) -> None:
        self._check(lambda m: m.check_approve(inp))

    @workflow.update
    async def reject(self, inp: RejectInput) -> UpdateResult:
        """An approver rejects the request, with a reason."""
        return await self._apply(lambda m, now: m.reject(inp, now), inp)

    @reject.validator
    def _validate_reject(self, inp: RejectInput) -> None:
        self._check(lambda m: m.check_reject(inp))

    @workflow.update
    async def comment(self, inp: CommentInput) -> UpdateResult:
        """Anyone taking part comments."""
        return await self._apply(lambda m, now: m.comment(inp, now), inp)

    @comment.validator
    def _validate_comment(self, inp: CommentInput) -> None:
        self._check(lambda m: m.check_comment(inp))

    @workflow.update
    async def withdraw(self, inp: WithdrawInput) -> UpdateResult:
        """The requester withdraws the request."""
        return await self._apply(lambda m, now: m.withdraw(inp, now), inp)

    @withdraw.validator
    def _validate_withdraw(self, inp: WithdrawInput) -> None:
        self._check(lambda m: m.check_withdraw(inp))

    @workflow.signal
    async def decide(self, sig: DecisionSignal) -> None:
        """A fire-and-forget decision (e-mail reply, poller); a refused one is audited."""
        await workflow.wait_condition(lambda: self._machine is not None)
        assert self._machine is not None
        state = self._machine.state
        before = state.audit[-1].seq
        self._machine.fire_due(workflow.now())
        self._machine.signal(sig, workflow.now())
        events = [e for e in state.audit if e.seq > before]
        _mark_origin(events, sig.actor, {"ip": sig.ip, "message_id": sig.message_id})

    @workflow.update
    async def skip_level(self, inp: SkipLevelInput) -> UpdateResult:
        """Override: skip the current or a named level."""
        return await self._apply(lambda m, now: m.skip(inp, now), inp)

    @skip_level.validator
    def _validate_skip(self, inp: SkipLevelInput) -> None:
        self._check(lambda m: m.check_skip(inp))

    @workflow.update
    async def insert_level(self, inp: InsertLevelInput) -> UpdateResult:
        """Override: insert an approver level at a position."""
        return await self._apply(lambda m, now: m.insert_level(inp, now), inp)

    @insert_level.validator
    def _validate_insert(self, inp: InsertLevelInput) -> None:
        self._check(lambda m: m.check_insert(inp))

    @workflow.update
    async def reassign(self, inp: ReassignInput) -> UpdateResult:
        """Override or delegation: move a pending approval to someone else."""
        return await self._apply(lambda m, now: m.reassign(inp, now), inp)

    @reassign.validator
    def _validate_reassign(self, inp: ReassignInput) -> None:
        self._check(lambda m: m.check_reassign(inp))

    @workflow.update
    async def pause(self, inp: PauseInput) -> UpdateResult:
        """Override: stop the SLA clock."""
        return await self._apply(lambda m, now: m.pause(inp, now), inp)

    @pause.validator
    def _validate_pause(self, inp: PauseInput) -> None:
        self._check(lambda m: m.check_pause(inp))

    @workflow.update
    async def resume(self, inp: ResumeInput) -> UpdateResult:
        """Override: restart the SLA clock, moving every pending deadline."""
        return await self._apply(lambda m, now: m.resume(inp, now), inp)

    @resume.validator
    def _validate_resume(self, inp: ResumeInput) -> None:
        self._check(lambda m: m.check_resume(inp))

    @workflow.update
    async def cancel(self, inp: CancelInput) -> UpdateResult:
        """Override: end the request as CANCELLED."""
        return await self._apply(lambda m, now: m.cancel(inp, now), inp)

    @cancel.validator
    def _validate_cancel(self, inp: CancelInput) -> None:
        self._check(lambda m: m.check_cancel(inp))

    @workflow.query
    def state(self, query: StateQuery) -> RequestState:
        """The live state; the audit trail from `audit_since` on."""
        if self._machine is None:
            raise ApplicationError("the request is still resolving its approvers")
        state = self._machine.state
        return state.model_copy(
            update={"audit": [e for e in state.audit if e.seq > query.audit_since]}
        )
