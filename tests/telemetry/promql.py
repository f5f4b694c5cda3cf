"""Just enough PromQL reading to check a dashboard: the series names and labels a query uses."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_RANGE = re.compile(r"\[[^\]]*\]")
_SELECTOR = re.compile(rf"({_NAME})?\s*\{{([^}}]*)\}}")
_MATCHER = re.compile(rf"({_NAME})\s*(?:=~|!~|!=|=)")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_IDENTIFIER = re.compile(rf"(?<![\w$.:]){_NAME}(?![\w:])(?!\s*\()")
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or"}
KEYWORDS |= {"unless", "offset", "inf", "nan"}


@dataclass
class Query:
    """The series a query selects, the labels each selector matches on, and grouping labels."""

    names: set[str] = field(default_factory=set)
    matched: dict[str, set[str]] = field(default_factory=dict)
    grouped: set[str] = field(default_factory=set)


def read_query(expr: str) -> Query:
    """The metric names and labels of a PromQL expression (Grafana variables allowed)."""
    query = Query()
    text = _RANGE.sub("", expr)
    for name, labels in _SELECTOR.findall(_STRING.sub('""', text)):
        matched = set(_MATCHER.findall(labels))
        if name:
            query.matched.setdefault(name, set()).update(matched)
    text = _SELECTOR.sub(lambda m: m.group(1) or "", _STRING.sub('""', text))
    for labels in _GROUPING.findall(text):
        query.grouped |= {label.strip() for label in labels.split(",") if label.strip()}
    text = _GROUPING.sub("", text)
    for name in _IDENTIFIER.findall(text):
        if name not in KEYWORDS:
            query.names.add(name)
    query.names |= set(query.matched)
    return query
