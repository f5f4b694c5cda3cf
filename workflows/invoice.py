"""InvoiceWorkflow: one supplier invoice through extract -> validate -> approve -> post -> done.

A step that fails parks the invoice in NEEDS_REVIEW with the step and the reason, tells the AP
team, and waits for an override (corrected fields, a step to continue at, a reason) with
reminders; the overall time limit ends it FAILED. The approval is a child ApprovalWorkflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from activities.invoice_records import InvoiceRecordActivities
    from activities.invoice_steps import InvoiceStepActivities
    from invoicing.corrections import apply_corrections, corrected_names, keep_manual
    from invoicing.trail import EventKind, add_event, current_details, search_values
    from schemas import search_attributes as sa
    from schemas.approval import ApprovalResult, RequestStatus
    from schemas.invoice import (
        ExtractFieldsInput,
        InvoiceInput,
        InvoiceOverride,
        InvoiceResult,
        InvoiceReviewNotice,
        InvoiceState,
        InvoiceStatus,
        InvoiceStep,
        PostInvoiceInput,
        PrepareApprovalInput,
        RecordInvoiceInput,
        ValidateInvoiceInput,
    )
    from workflows.approval import ApprovalWorkflow

_SQL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)
)
# A step's activity retries transient trouble (ERP or object store down) for about an hour;
# past that the invoice parks with the error, so a person looks instead of waiting forever.
_STEP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=16,
)
_NOTIFY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=5)
)


@dataclass
class _Outcome:
    """What a step led to: the next step, a reason to park, or a final status."""

    next_step: InvoiceStep | None = None
    problem: str | None = None
    final: InvoiceStatus | None = None
    reason: str | None = None


@workflow.defn
class InvoiceWorkflow:
    """One invoice, from its documents to a posting in the ERP."""

    def __init__(self) -> None:
        """No state until run() has its input."""
        self._state: InvoiceState | None = None
        self._override: InvoiceOverride | None = None
        self._approvals = 0
        self._searched: dict[str, Any] = {}

    @workflow.run
    async def run(self, inp: InvoiceInput) -> InvoiceResult:
        """Run the steps in order, parking on trouble, until POSTED, REJECTED or FAILED."""
        now = workflow.now()
        self._input = inp
        self._state = InvoiceState(
            invoice_id=inp.invoice_id,
            org_id=inp.org_id,
            source=inp.source,
            sender=inp.sender,
            subject=inp.subject,
            documents=inp.documents,
            created_at=now,
            deadline=now + timedelta(days=inp.policy.time_limit_days),
        )
        self._change("started", inp.submitted_by, f"received by {inp.source}")
        await self._record()
        step: InvoiceStep | None = InvoiceStep.EXTRACT
        while step is not None and step is not InvoiceStep.DONE:
            if workflow.now() >= self._state.deadline:
                self._finish(InvoiceStatus.FAILED, f"time limit reached at step {step.value}")
                break
            outcome = await self._run_step(step)
            if outcome.final is not None:
                self._finish(outcome.final, outcome.reason)
                break
            if outcome.problem is not None:
                step = await self._park(step, outcome.problem)
                if step is None:
                    self._finish(InvoiceStatus.FAILED, self._state.reason)
                continue
            step = outcome.next_step
            if step is InvoiceStep.DONE:
                self._finish(InvoiceStatus.POSTED, None)
            else:
                assert step is not None
                self._state.step = step
                self._change("step", "system", f"on to {step.value}")
        await self._record()
        state = self._state
        return InvoiceResult(
            invoice_id=state.invoice_id,
            status=state.status,
            reason=state.reason,
            erp_document=state.erp_document,
        )

    @workflow.query
    def state(self) -> InvoiceState:
        """The invoice as it stands."""
        assert self._state is not None
        return self._state

    @workflow.update
    async def override(self, change: InvoiceOverride) -> InvoiceState:
        """Fix a parked invoice and continue it at a named step."""
        self._override = change
        await workflow.wait_condition(lambda: self._override is None)
        return self.state()

    @override.validator
    def _check_override(self, change: InvoiceOverride) -> None:
        state = self._state
        if state is None or state.status is not InvoiceStatus.NEEDS_REVIEW:
            status = state.status.value if state else "starting"
            raise ApplicationError(f"only an invoice in NEEDS_REVIEW can be overridden ({status})")
        if self._override is not None:
            raise ApplicationError("another override of this invoice is being applied")
        known = {c.name for c in state.validation.checks} if state.validation else set()
        unknown = sorted(set(change.waive_checks) - known)
        if unknown:
            raise ApplicationError(f"no such validation check to waive: {', '.join(unknown)}")

    # ---- steps --------------------------------------------------------------------------

    async def _run_step(self, step: InvoiceStep) -> _Outcome:
        try:
            if step is InvoiceStep.EXTRACT:
                return await self._extract()
            if step is InvoiceStep.VALIDATE:
                return await self._validate()
            if step is InvoiceStep.APPROVE:
                return await self._approve()
            return await self._post()
        except ActivityError as err:
            cause = str(err.cause or err)
            return _Outcome(problem=f"{step.value} kept failing: {cause}")

    async def _extract(self) -> _Outcome:
        state = self._require()
        out = await workflow.execute_activity_method(
            InvoiceStepActivities.extract_invoice_fields,
            ExtractFieldsInput(invoice_id=state.invoice_id, documents=self._input.documents),
            start_to_close_timeout=timedelta(minutes=15),
            heartbeat_timeout=timedelta(minutes=2),
            retry_policy=_STEP_RETRY,
        )
        if out.problem is not None or out.fields is None:
            return _Outcome(problem=out.problem or "nothing could be read")
        # Corrections made by a person survive a new extraction.
        state.fields = keep_manual(state.fields, out.fields)
        state.extraction_method = out.method
        return _Outcome(next_step=InvoiceStep.VALIDATE)

    async def _validate(self) -> _Outcome:
        state = self._require()
        report = await workflow.execute_activity_method(
            InvoiceStepActivities.validate_invoice,
            ValidateInvoiceInput(
                invoice_id=state.invoice_id,
                org_id=state.org_id,
                sender=state.sender,
                fields=state.fields,
                waived_checks=state.waived_checks,
                policy=self._input.policy,
            ),
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=_STEP_RETRY,
        )
        state.validation = report
        if report.errors:
            return _Outcome(problem="; ".join(f"{c.name}: {c.message}" for c in report.errors))
        return _Outcome(next_step=InvoiceStep.APPROVE)

    async def _approve(self) -> _Outcome:
        state = self._require()
        assert state.validation is not None
        prepared = await workflow.execute_activity_method(
            InvoiceRecordActivities.prepare_invoice_approval,
            PrepareApprovalInput(
                invoice_id=state.invoice_id,
                org_id=state.org_id,
                requester=self._input.submitted_by,
                fields=state.fields,
                validation=state.validation,
                template_key=self._input.policy.template_key,
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=_STEP_RETRY,
        )
        if prepared.approval is None:
            return _Outcome(problem=prepared.problem or "no approval can start")
        self._approvals += 1
        try:
            child = await workflow.start_child_workflow(
                ApprovalWorkflow.run,
                prepared.approval,
                id=f"{state.invoice_id}-approval-{self._approvals}",
            )
            # Named only once it exists, so whoever reads the id can act on the request.
            state.approval_request_id = child.id
            self._change("step", "system", f"approval request {child.id} started")
            await self._record()
            result: ApprovalResult = await child
        except ChildWorkflowError as err:
            return _Outcome(problem=f"the approval request failed: {err.cause or err}")
        if result.status is RequestStatus.APPROVED:
            return _Outcome(next_step=InvoiceStep.POST)
        if result.status is RequestStatus.REJECTED:
            return _Outcome(final=InvoiceStatus.REJECTED, reason=result.reason or "rejected")
        why = f"the approval request ended {result.status.value}"
        return _Outcome(problem=f"{why}: {result.reason}" if result.reason else why)

    async def _post(self) -> _Outcome:
        state = self._require()
        assert state.validation is not None and state.validation.supplier_id is not None
        out = await workflow.execute_activity_method(
            InvoiceStepActivities.post_invoice_to_erp,
            PostInvoiceInput(
                invoice_id=state.invoice_id,
                org_id=state.org_id,
                supplier_id=state.validation.supplier_id,
                fields=state.fields,
            ),
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=_STEP_RETRY,
        )
        if out.document_number is None:
            return _Outcome(problem=f"the ERP refused the posting: {out.problem}")
        state.erp_document = out.document_number
        return _Outcome(next_step=InvoiceStep.DONE)

    # ---- parking ------------------------------------------------------------------------

    async def _park(self, step: InvoiceStep, problem: str) -> InvoiceStep | None:
        """Wait in NEEDS_REVIEW for an override; None when the time limit ends the wait."""
        state = self._require()
        state.status, state.step, state.reason = InvoiceStatus.NEEDS_REVIEW, step, problem
        self._change("parked", "system", problem)
        await self._record()
        await self._notify(reminder=False)
        every = timedelta(hours=self._input.policy.review_reminder_hours)
        while True:
            left = state.deadline - workflow.now()
            if left <= timedelta(0):
                state.reason = f"time limit reached while waiting for review at {step}: {problem}"
                return None
            if await self._wait(min(every, left)):
                break
            if state.deadline - workflow.now() > timedelta(0):
                self._change("reminder", "system", f"still waiting for review at {step.value}")
                await self._record()
                await self._notify(reminder=True)
        change = self._override
        assert change is not None
        state.fields = apply_corrections(state.fields, change.fields)
        state.waived_checks = sorted(set(state.waived_checks) | set(change.waive_checks))
        changed = ", ".join(corrected_names(change.fields)) or "no fields"
        waived = f"; waived {', '.join(change.waive_checks)}" if change.waive_checks else ""
        state.status, state.reason = InvoiceStatus.IN_PROGRESS, None
        state.step = InvoiceStep(change.continue_at)
        self._change(
            "override",
            change.actor,
            f"continue at {change.continue_at}, corrected {changed}{waived}: {change.reason}",
        )
        self._override = None
        await self._record()
        return state.step

    async def _wait(self, timeout: timedelta) -> bool:
        try:
            await workflow.wait_condition(lambda: self._override is not None, timeout=timeout)
        except TimeoutError:
            return False
        return True

    def _finish(self, status: InvoiceStatus, reason: str | None) -> None:
        state = self._require()
        state.status, state.reason = status, reason
        if status is InvoiceStatus.POSTED:
            state.step = InvoiceStep.DONE
        detail = f"{status.value}" + (f": {reason}" if reason else "")
        self._change("finished", "system", detail)

    # ---- records ------------------------------------------------------------------------

    def _require(self) -> InvoiceState:
        assert self._state is not None
        return self._state

    def _change(self, kind: EventKind, actor: str, detail: str) -> None:
        state = self._require()
        add_event(state, workflow.now(), kind, actor, detail)
        workflow.set_current_details(current_details(state))
        values = search_values(state)
        if values != self._searched:
            self._searched = values
            pairs: list[SearchAttributeUpdate[Any]] = [sa.STATUS.value_set(values["status"])]
            if values["supplier"]:
                pairs.append(sa.SUPPLIER.value_set(values["supplier"][:200]))
            if values["amount"] is not None:
                pairs.append(sa.AMOUNT.value_set(values["amount"]))
            workflow.upsert_search_attributes(pairs)

    async def _record(self) -> None:
        await workflow.execute_activity_method(
            InvoiceRecordActivities.record_invoice_state,
            RecordInvoiceInput(state=self._require()),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=_SQL_RETRY,
        )

    async def _notify(self, *, reminder: bool) -> None:
        state = self._require()
        fields = state.fields
        await workflow.execute_activity_method(
            InvoiceRecordActivities.notify_invoice_review,
            InvoiceReviewNotice(
                invoice_id=state.invoice_id,
                org_id=state.org_id,
                seq=state.version,
                step=state.step,
                reason=state.reason or "",
                reminder=reminder,
                supplier_name=fields.supplier_name.value if fields.supplier_name else None,
                invoice_number=fields.invoice_number.value if fields.invoice_number else None,
            ),
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=_NOTIFY_RETRY,
        )
