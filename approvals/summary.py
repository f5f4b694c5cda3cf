"""How a request shows to operators: search attribute values and a plain-words summary."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from temporalio.common import SearchAttributeUpdate

from bizcal.calendar import BusinessCalendar
from schemas import search_attributes as sa
from schemas.approval import AuditEvent, RequestState
from schemas.notifications import LevelNotice, RequestNotice


def without_audit(state: RequestState) -> RequestState:
    """A deep copy of the state with its audit trail left out (cheap: the trail is the bulk)."""
    return state.model_copy(update={"audit": []}).model_copy(deep=True)


def notice(state: RequestState, timezone: str) -> RequestNotice:
    """What notifications say about the request now."""
    level = state.active_level()
    level_notice = None
    if level is not None:
        level_notice = LevelNotice(
            level_id=level.level_id,
            name=level.name,
            approvers=list(level.approvers),
            reminder_due=[d.due for d in level.deadlines if d.kind == "reminder" and d.due],
            breach_due=next((d.due for d in level.deadlines if d.kind == "breach"), None),
        )
    return RequestNotice(
        request_id=state.request_id,
        org_id=state.org_id,
        title=state.title,
        template_name=state.template_name,
        requester=state.requester,
        amount=state.amount,
        currency=state.currency,
        priority=state.priority,
        status=state.status.value,
        sla_state=state.sla_state.value,
        outcome_reason=state.outcome_reason,
        timezone=timezone,
        level=level_notice,
    )


def search_attribute_values(state: RequestState) -> list[SearchAttributeUpdate[Any]]:
    """The values of Signoff's search attributes for this state."""
    level = state.active_level()
    pairs: list[SearchAttributeUpdate[Any]] = [
        sa.STATUS.value_set(state.status.value),
        sa.ORG.value_set(state.org_id),
        sa.SLA.value_set(state.sla_state.value),
        sa.PRIORITY.value_set(state.priority),
        sa.TEMPLATE.value_set(state.template_key),
        sa.LEVEL.value_set(0 if state.current_level is None else state.current_level + 1),
        sa.ASSIGNEES.value_set(level.pending_approvers() if level else []),
    ]
    if state.amount is not None:
        pairs.append(sa.AMOUNT.value_set(float(state.amount)))
    supplier = state.fields.get("supplier_name")
    if isinstance(supplier, str) and supplier:
        pairs.append(sa.SUPPLIER.value_set(supplier))
    return pairs


def describe(state: RequestState, cal: BusinessCalendar) -> str:
    """Where the request stands, in words, for the Temporal Web UI's current details."""
    money = f" for {state.currency or ''} {state.amount:,}".rstrip() if state.amount else ""
    lines = [
        f"{state.template_name}: {state.title!r}{money}, requested by {state.requester} "
        f"({state.priority})."
    ]
    if not state.is_open:
        lines.append(f"{state.status.value}: {state.outcome_reason or 'no reason given'}.")
        return "\n".join(lines)
    level = state.active_level()
    assert level is not None and state.current_level is not None
    pending = ", ".join(level.pending_approvers()) or "nobody (reassign or insert an approver)"
    lines.append(
        f"Level {state.current_level + 1} of {len(state.levels)} ({level.name!r}) waits on "
        f"{pending}: {len(level.approvals())} of {level.needed()} approvals."
    )
    if state.paused:
        lines.append(f"SLA clock PAUSED: {state.pause_reason}.")
        return "\n".join(lines)
    upcoming = [d for d in level.deadlines if d.fired_at is None and d.due is not None]
    sla = f"SLA {state.sla_state.value}"
    if upcoming:
        nxt = upcoming[0]
        assert nxt.due is not None
        what = "breach" if nxt.kind == "breach" else f"{nxt.threshold:.0%} reminder"
        lines.append(f"{sla}; next: {what} at {cal.describe(nxt.due)}.")
    else:
        lines.append(f"{sla}: the level's TAT of {level.tat.describe()} has run out.")
    return "\n".join(lines)


_SUBJECTS = {
    "level_started": "Approval needed: {title}",
    "reminder": "Reminder ({threshold}): {title} waits for your approval",
    "breached": "TAT breached: {title}",
    "escalated": "Escalated to you: {title}",
    "approved": "{actor} approved {title}",
    "commented": "{actor} commented on {title}",
    "reassigned": "Approval of {title} reassigned",
    "level_skipped": "A level of {title} was skipped",
    "level_inserted": "An approval level was added to {title}",
    "level_approved": "{title}: a level was approved",
    "paused": "{title} is paused",
    "resumed": "{title} is running again",
    "completed": "{title}: {status}",
    "decision_ignored": "Your decision on {title} was not applied: {reason}",
}


def event_subject(event: AuditEvent, title: str, names: Mapping[str, str] | None = None) -> str:
    """A one-line subject for an inbox entry or e-mail about this event of a request; people
    are shown by name when `names` knows them."""
    threshold = event.detail.get("threshold")
    text = _SUBJECTS.get(event.kind.value, "{title}: {kind}").format(
        title=repr(title),
        actor=(names or {}).get(event.actor, event.actor),
        kind=event.kind.value,
        reason=event.reason or "",
        status=str(event.detail.get("status", "")).lower(),
        threshold=f"{threshold:.0%}" if isinstance(threshold, float) else "",
    )
    return text[:400]
