"""Account owners on instances: set one, or many from a CSV (`id or name, owner name, e-mail`).

Addresses are stored in lower case (search finds them whole); a bad one is refused with the
reason, and a CSV is applied row by row: good rows are saved, bad ones listed with their line.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from instances.models import AuditEntry, ElementInstance


class OwnerError(Exception):
    """An owner, or a file of owners, that cannot be kept; the message says why (nothing was
    changed). Raised below the forms, which show it (hence not services.ActionError)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


Action = AuditEntry.Action
MAX_ROWS = 100_000
CHUNK = 1_000
# Refused rows listed on the page (the count covers them all).
SHOWN = 200
EMAIL_NEEDED = "Give the owner's e-mail address too: campaigns write to it."


def clean_email(value: str) -> str:
    """The address as stored (trimmed, lower case); OwnerError with the reason when bad."""
    value = (value or "").strip().lower()
    if not value:
        return ""
    try:
        validate_email(value)
        value.rsplit("@", 1)[1].encode("idna")  # as sending will encode it
    except (ValidationError, UnicodeError):
        raise OwnerError(f"“{value[:100]}” is not an e-mail address.") from None
    return value


def clean_name(value: str) -> str:
    value = " ".join((value or "").split())
    if len(value) > 200:
        raise OwnerError("An owner's name has at most 200 characters.")
    if "<" in value or ">" in value:
        raise OwnerError("An owner's name cannot contain < or >.")
    return value


def set_owner(*, instance: ElementInstance, name: str, email: str, actor) -> bool:
    """Record the instance's owner; returns whether anything changed."""
    name, email = clean_name(name), clean_email(email)
    if name and not email:
        raise OwnerError(EMAIL_NEEDED)
    if (instance.owner_name, instance.owner_email) == (name, email):
        return False
    instance.owner_name, instance.owner_email = name, email
    with transaction.atomic():
        instance.save(update_fields=["owner_name", "owner_email", "updated_at"])
        AuditEntry.objects.create(
            instance=instance,
            action=Action.OWNER_CHANGED,
            actor=actor if getattr(actor, "is_authenticated", False) else None,
            detail=_words(name, email),
        )
    return True


def _words(name: str, email: str) -> str:
    if not email:
        return "Owner removed."
    return f"Owner: {name} <{email}>." if name else f"Owner: {email}."


@dataclass
class CsvResult:
    changed: int = 0
    unchanged: int = 0
    refused: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)

    def refuse(self, line: int, reason: str) -> None:
        self.refused += 1
        if len(self.problems) < SHOWN:
            self.problems.append((line, reason))


def import_csv(data: bytes, *, actor) -> CsvResult:
    """Apply a CSV of `cloud elements id or name, owner name, owner e-mail` rows."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise OwnerError("The file is not UTF-8 text; save it as CSV (UTF-8).") from None
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as error:
        raise OwnerError(f"The file is not a CSV this page can read ({error}).") from None
    if rows and _is_header(rows[0]):
        rows[0] = []
    if len(rows) > MAX_ROWS:
        raise OwnerError(f"The file has {len(rows):,} rows; split it into files of {MAX_ROWS:,}.")
    result = CsvResult()
    wanted: list[tuple[int, str, str, str]] = []
    for line, row in enumerate(rows, start=1):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != 3:
            result.refuse(line, f"{len(row)} columns; expected 3 (id or name, name, e-mail).")
            continue
        key, name, email = (cell.strip() for cell in row)
        try:
            name, email = clean_name(name), clean_email(email)
        except OwnerError as error:
            result.refuse(line, error.message)
            continue
        if not key or not email:
            result.refuse(line, "Both the instance and the owner's e-mail address are needed.")
            continue
        wanted.append((line, key, name, email))
    for start in range(0, len(wanted), CHUNK):
        _apply(wanted[start : start + CHUNK], result, actor)
    return result


def _is_header(row: list[str]) -> bool:
    return len(row) == 3 and "@" not in row[2] and "mail" in row[2].lower()


def _apply(rows: list[tuple[int, str, str, str]], result: CsvResult, actor) -> None:
    numbers = [int(key) for _, key, _, _ in rows if key.isascii() and key.isdigit()]
    names = [key for _, key, _, _ in rows if not (key.isascii() and key.isdigit())]
    fields = ("pk", "name", "remote_id", "owner_name", "owner_email")
    by_id: dict[str, list[ElementInstance]] = defaultdict(list)
    for instance in ElementInstance.objects.filter(remote_id__in=numbers).only(*fields):
        by_id[str(instance.remote_id)].append(instance)
    by_name: dict[str, list[ElementInstance]] = defaultdict(list)
    for instance in ElementInstance.objects.filter(name__in=names).only(*fields):
        by_name[instance.name].append(instance)
    changed: dict[int, ElementInstance] = {}
    for line, key, name, email in rows:
        found = by_id.get(key) or by_name.get(key) or []
        if not found:
            result.refuse(line, f"No instance has the Cloud Elements id or name “{key[:100]}”.")
            continue
        if len(found) > 1:
            result.refuse(
                line, f"{len(found)} instances are named “{key[:100]}”: use the Cloud Elements id."
            )
            continue
        instance = found[0]
        if (instance.owner_name, instance.owner_email) == (name, email):
            result.unchanged += 1
            continue
        instance.owner_name, instance.owner_email = name, email
        changed[instance.pk] = instance
        result.changed += 1
    if not changed:
        return
    user = actor if getattr(actor, "is_authenticated", False) else None
    with transaction.atomic():
        ElementInstance.objects.bulk_update(changed.values(), ["owner_name", "owner_email"])
        AuditEntry.objects.bulk_create(
            AuditEntry(
                instance_id=pk,
                action=Action.OWNER_CHANGED,
                actor=user,
                detail=_words(i.owner_name, i.owner_email) + " (from a CSV)",
            )
            for pk, i in changed.items()
        )
