"""An element's instance parameters, read from its published description.

`parse` turns `GET /elements/{key}` (its `configuration` entries, `authentication`) and
`GET /elements/{key}/metadata` (`events`) into an `ElementSpec`: the fields a form shows, in
their order, with labels, descriptions, defaults, required marks and kinds; the ways to
authenticate; whether and how the element sends events. Entries hidden from the console,
internal or inactive are left out. A `type` this module does not know becomes a text field and
is logged once per process (never an error: Cloud Elements adds types).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from instances.parameters import SECRET_PARAMETERS

logger = logging.getLogger(__name__)

TEXT, BOOLEAN, SECRET, CHOICE = "text", "boolean", "secret", "choice"
# Dropbox's published entries are TEXTFIELD_1000 and BOOLEAN (reference: fleet-anchors.md);
# TEXTFIELD_<n> for other lengths, PASSWORD and SELECTION are read the same way.
TEXTFIELD = re.compile(r"TEXTFIELD_(\d{1,6})")
KNOWN = {"BOOLEAN": BOOLEAN, "PASSWORD": SECRET, "SELECTION": CHOICE, "TEXTAREA": TEXT}
EVENT_KEYS = ("event.",)
_unknown_logged: set[str] = set()


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    description: str
    kind: str
    required: bool
    default: Any = None
    max_length: int | None = None
    choices: tuple[tuple[str, str], ...] = ()
    order: int = 0

    @property
    def is_event_setting(self) -> bool:
        return self.key.startswith(EVENT_KEYS)


@dataclass(frozen=True)
class ElementSpec:
    key: str
    name: str
    authentication_types: tuple[str, ...]
    fields: tuple[Field, ...]
    events_supported: bool = False
    event_methods: tuple[str, ...] = ()
    sandbox_example: bool = False
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def polls(self) -> bool:
        return "polling" in self.event_methods

    def field(self, key: str) -> Field | None:
        return next((f for f in self.fields if f.key == key), None)

    def connection_fields(self) -> list[Field]:
        return [f for f in self.fields if not f.is_event_setting]

    def event_fields(self) -> list[Field]:
        """The event section's fields, only when the element sends events."""
        return [f for f in self.fields if f.is_event_setting] if self.events_supported else []


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _kind(key: str, raw_type: Any) -> tuple[str, int | None]:
    type_name = _text(raw_type).upper()
    match = TEXTFIELD.fullmatch(type_name)
    if match:
        kind, length = TEXT, int(match.group(1))
    elif type_name in KNOWN:
        kind, length = KNOWN[type_name], None
    else:
        if type_name not in _unknown_logged:
            _unknown_logged.add(type_name)
            logger.warning("element field type %r (first seen on %s) shown as text", raw_type, key)
        kind, length = TEXT, None
    if kind == TEXT and key in SECRET_PARAMETERS:
        kind = SECRET
    return kind, length


def _default(kind: str, value: Any) -> Any:
    if kind == BOOLEAN:
        if isinstance(value, bool):
            return value
        return _text(value).lower() == "true"
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def _choices(entry: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    options = entry.get("options")
    found = []
    for option in options if isinstance(options, list) else ():
        if isinstance(option, dict) and _text(option.get("value")):
            found.append((_text(option["value"]), _text(option.get("name")) or option["value"]))
    return tuple(found)


def _field(entry: dict[str, Any], position: int) -> Field | None:
    key = _text(entry.get("key"))
    if not key or entry.get("hideFromConsole") is True or entry.get("internal") is True:
        return None
    if entry.get("active") is False:
        return None
    kind, length = _kind(key, entry.get("type"))
    choices = _choices(entry) if kind == CHOICE else ()
    if kind == CHOICE and not choices:
        kind = TEXT  # a choice of nothing: let the operator type the value
    order = entry.get("displayOrder")
    return Field(
        key=key,
        label=_text(entry.get("name")) or key,
        description=_text(entry.get("description")),
        kind=kind,
        required=entry.get("required") is True,
        default=_default(kind, entry.get("defaultValue")),
        max_length=length,
        choices=choices,
        order=order if isinstance(order, int) and not isinstance(order, bool) else position,
    )


def parse(element: dict[str, Any], metadata: dict[str, Any] | None = None) -> ElementSpec:
    """The spec of `element` (GET /elements/{key}) and its `metadata` (…/metadata)."""
    entries = element.get("configuration")
    fields = [
        found
        for position, entry in enumerate(entries if isinstance(entries, list) else ())
        if isinstance(entry, dict) and (found := _field(entry, position)) is not None
    ]
    fields.sort(key=lambda f: f.order)
    authentication = element.get("authentication")
    primary = _text(authentication.get("type")) if isinstance(authentication, dict) else ""
    offered = element.get("authenticationTypes")
    types = [_text(t) for t in offered if _text(t)] if isinstance(offered, list) else []
    if primary and primary not in types:
        types.insert(0, primary)
    events = (metadata or {}).get("events")
    events = events if isinstance(events, dict) else {}
    methods = events.get("methods")
    return ElementSpec(
        key=_text(element.get("key")),
        name=_text(element.get("name")) or _text(element.get("key")),
        authentication_types=tuple(types),
        fields=tuple(fields),
        events_supported=events.get("supported") is True,
        event_methods=tuple(
            _text(m).lower() for m in (methods if isinstance(methods, list) else ()) if _text(m)
        ),
        sandbox_example=element.get("sandboxExample") is True,
    )
