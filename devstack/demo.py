"""The demo org "Acme": users with roles, templates and AP data, seeded idempotently."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from api.security import hash_password
from devstack.demo_ap import INVOICE, seed_demo_ap
from schemas.calendar import OrgCalendar
from schemas.template import TemplateSnapshot
from store.db import transaction
from store.tables import Org, Template, User
from store.upsert import insert_missing

DEMO_ORG = "acme"
DEMO_PASSWORD = "signoff-demo"

# (id, e-mail, name, roles)
DEMO_USERS: list[tuple[str, str, str, list[str]]] = [
    ("acme-admin", "admin@acme.test", "Ada Admin", ["ADMIN"]),
    ("acme-manager", "manager@acme.test", "Max Manager", ["MANAGEMENT"]),
    ("acme-alice", "alice@acme.test", "Alice Lead", ["USER", "team-lead"]),
    ("acme-bob", "bob@acme.test", "Bob Finance", ["USER", "finance"]),
    ("acme-carol", "carol@acme.test", "Carol CFO", ["USER", "finance", "cfo"]),
    ("acme-rita", "rita@acme.test", "Rita Requester", ["USER"]),
    ("acme-paula", "ap@acme.test", "Paula Payables", ["USER", "AP"]),
]

PURCHASE: dict[str, Any] = {
    "key": "purchase",
    "name": "Purchase approval",
    "levels": [
        {
            "name": "Team lead",
            "approvers": {"role": "team-lead"},
            "tat": {"hours": 8},
            "escalation": {"action": "reassign", "reassign_to": ["acme-manager"]},
        },
        {
            "name": "Finance",
            "approvers": {"role": "finance"},
            "tat": {"days": 1},
            "when": {"min_amount": "1000"},
            "escalation": {"action": "notify", "notify": ["acme-manager"]},
        },
        {
            "name": "CFO",
            "approvers": {"users": ["acme-carol"]},
            "tat": {"days": 2},
            "when": {"min_amount": "10000"},
            "escalation": {"action": "notify", "notify": ["acme-manager", "acme-admin"]},
        },
    ],
    "overall_tat": {"days": 10},
}

LEAVE: dict[str, Any] = {
    "key": "leave",
    "name": "Leave request",
    "levels": [
        {
            "name": "Team lead",
            "approvers": {"role": "team-lead"},
            "tat": {"days": 1},
            "escalation": {"action": "auto_approve"},
        }
    ],
}


def seed_demo(engine: Engine) -> bool:
    """Create the Acme org, its users and templates when missing; True if anything was new."""
    now = datetime.now(UTC)
    calendar = OrgCalendar(timezone="Europe/Berlin", holiday_country="DE")
    with transaction(engine) as session:
        added = insert_missing(
            session,
            Org,
            [
                {
                    "id": DEMO_ORG,
                    "name": "Acme",
                    "calendar": calendar.model_dump(mode="json"),
                    "created_at": now,
                }
            ],
            ["id"],
        )
        password_hash = hash_password(DEMO_PASSWORD)
        added += insert_missing(
            session,
            User,
            [
                {
                    "id": uid,
                    "org_id": DEMO_ORG,
                    "email": email,
                    "name": name,
                    "roles": roles,
                    "active": True,
                    "password_hash": password_hash,
                    "failed_logins": 0,
                    "created_at": now,
                }
                for uid, email, name, roles in DEMO_USERS
            ],
            ["id"],
        )
        templates = [TemplateSnapshot.model_validate(b) for b in (PURCHASE, LEAVE, INVOICE)]
        added += insert_missing(
            session,
            Template,
            [
                {
                    "org_id": DEMO_ORG,
                    "key": t.key,
                    "version": 1,
                    "name": t.name,
                    "body": t.model_dump(mode="json", exclude={"key", "version"}),
                    "created_by": "acme-admin",
                    "created_at": now,
                    "deleted_at": None,
                }
                for t in templates
            ],
            ["org_id", "key", "version"],
        )
        added += seed_demo_ap(session, DEMO_ORG, now)
    return added > 0
