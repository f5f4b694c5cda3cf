"""Signoff's custom search attributes, as registered on the Temporal namespace."""

from __future__ import annotations

from typing import Any

from temporalio.common import SearchAttributeKey

STATUS = SearchAttributeKey.for_keyword("SignoffStatus")
LEVEL = SearchAttributeKey.for_int("SignoffLevel")
ASSIGNEES = SearchAttributeKey.for_keyword_list("SignoffAssignees")
ORG = SearchAttributeKey.for_keyword("SignoffOrg")
SLA = SearchAttributeKey.for_keyword("SignoffSla")
AMOUNT = SearchAttributeKey.for_float("SignoffAmount")
PRIORITY = SearchAttributeKey.for_keyword("SignoffPriority")
TEMPLATE = SearchAttributeKey.for_keyword("SignoffTemplate")
SUPPLIER = SearchAttributeKey.for_keyword("SignoffSupplier")

ALL: tuple[SearchAttributeKey[Any], ...] = (
    STATUS,
    LEVEL,
    ASSIGNEES,
    ORG,
    SLA,
    AMOUNT,
    PRIORITY,
    TEMPLATE,
    SUPPLIER,
)

# The names the `temporal` CLI takes for --type.
CLI_TYPE_NAMES = {
    "KEYWORD": "Keyword",
    "INT": "Int",
    "KEYWORD_LIST": "KeywordList",
    "DOUBLE": "Double",
    "TEXT": "Text",
    "BOOL": "Bool",
    "DATETIME": "Datetime",
}


def cli_registrations() -> list[tuple[str, str]]:
    """(name, CLI type) for every attribute, for `temporal operator search-attribute create`."""
    return [(key.name, CLI_TYPE_NAMES[key.indexed_value_type.name]) for key in ALL]
