"""Elements' descriptions, read from Cloud Elements and kept (`ElementMetadata`).

`element_spec` answers from what is kept while it is younger than
ELEMENT_METADATA_CACHE_HOURS, reads Cloud Elements otherwise (or when asked to refresh), and
falls back to what is kept when Cloud Elements cannot answer; with nothing kept it raises
`ElementUnavailable`, whose message a page shows as it is.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from instances.cloud_elements import client as ce
from instances.elements.models import ElementMetadata, ListedElement
from instances.elements.spec import ElementSpec, parse
from instances.parameters import DEFAULT_ELEMENT_KEY

logger = logging.getLogger(__name__)
# What an element key looks like (Cloud Elements' keys are lower-case letters and digits).
ELEMENT_KEY = r"[a-z][a-z0-9]{0,63}"


class ElementUnavailable(Exception):
    def __init__(self, message: str, status: int = 502) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _fresh(when) -> bool:
    return timezone.now() - when < timedelta(hours=settings.ELEMENT_METADATA_CACHE_HOURS)


def element_name(key: str) -> str:
    """The element's name as last read from Cloud Elements (no remote call); else Dropbox's
    documented name for the default element, else its key."""
    found = ElementMetadata.objects.filter(key=key).values_list("name", flat=True).first()
    found = found or ListedElement.objects.filter(key=key).values_list("name", flat=True).first()
    return found or ("Dropbox" if key == DEFAULT_ELEMENT_KEY else key)


def known_elements() -> list[tuple[str, str]]:
    """(key, name) of every element whose description is kept, for suggestions (no remote
    call; a handful of rows)."""
    return list(ElementMetadata.objects.order_by("name", "key").values_list("key", "name"))


def refresh(key: str) -> ElementMetadata:
    """Read the element and its metadata from Cloud Elements and keep them."""
    element = ce.get_element(key)
    metadata = ce.get_element_metadata(key)
    found_key = str(element.get("key") or key)
    row, _ = ElementMetadata.objects.update_or_create(
        key=found_key,
        defaults={
            "name": str(element.get("name") or found_key)[:200],
            "element": element,
            "metadata": metadata,
            "fetched_at": timezone.now(),
        },
    )
    return row


def element_spec(key: str, *, refresh_now: bool = False) -> ElementSpec:
    """The spec of element `key`, from what is kept when it is recent enough."""
    row = ElementMetadata.objects.filter(key=key).first()
    if row is not None and not refresh_now and _fresh(row.fetched_at):
        return parse(row.element, row.metadata)
    try:
        row = refresh(key)
    except ce.CloudElementsNotFoundError:
        raise ElementUnavailable(f"Cloud Elements has no element “{key}”.", 404) from None
    except ce.CloudElementsError as error:
        if row is None:
            raise ElementUnavailable(
                f"The description of the element “{key}” could not be read from Cloud "
                f"Elements ({error.message}). Try again in a moment; nothing was changed."
            ) from None
        logger.warning("element %s: kept description used, Cloud Elements failed: %s", key, error)
    return parse(row.element, row.metadata)


def kept_spec(key: str) -> ElementSpec | None:
    """The spec as last read, whatever its age, without a remote call (a draft's edit page)."""
    row = ElementMetadata.objects.filter(key=key).first()
    return parse(row.element, row.metadata) if row is not None else None


def catalog(*, refresh_now: bool = False) -> list[ListedElement]:
    """Every element Cloud Elements offers, as last listed (read again when older than
    ELEMENT_METADATA_CACHE_HOURS, or on refresh; the kept list when Cloud Elements fails)."""
    kept = list(ListedElement.objects.all())
    if kept and not refresh_now and _fresh(min(row.listed_at for row in kept)):
        return kept
    try:
        return _list_and_keep()
    except ce.CloudElementsError as error:
        if kept:
            logger.warning("kept list of elements used, Cloud Elements failed: %s", error)
            return kept
        raise ElementUnavailable(
            f"The list of elements could not be read from Cloud Elements ({error.message}). "
            "Try again in a moment."
        ) from None


def _list_and_keep() -> list[ListedElement]:
    listed = ce.list_elements()
    now = timezone.now()
    rows = {}
    for item in listed:
        key = str(item.get("key") or "").strip()
        if key and item.get("active", True) is not False:
            name = str(item.get("name") or key)[:200]
            rows[key] = ListedElement(key=key, name=name, listed_at=now)
    with transaction.atomic():
        ListedElement.objects.exclude(key__in=list(rows)).delete()
        ListedElement.objects.bulk_create(
            rows.values(),
            update_conflicts=True,
            unique_fields=["key"],
            update_fields=["name", "listed_at"],
        )
    return list(ListedElement.objects.all())


def read_again(key: str = "") -> None:
    """Read the list of elements, and element `key`'s description, from Cloud Elements now;
    ElementUnavailable says what failed (what was kept stays in use)."""
    try:
        _list_and_keep()
        if key:
            refresh(key)
    except ce.CloudElementsNotFoundError:
        raise ElementUnavailable(f"Cloud Elements has no element “{key}”.", 404) from None
    except ce.CloudElementsError as error:
        raise ElementUnavailable(
            f"Cloud Elements could not be read ({error.message}); what was read before is "
            "still used. Try again in a moment."
        ) from None


def for_new_instance(key: str) -> tuple[ElementSpec | None, str]:
    """The spec the new-instance form is built from, and a notice for the page.

    Dropbox, the default element, is never refused: when its description cannot be read and
    none is kept, the form follows its documented parameter table (spec None) and says so.
    Any other element without a description raises ElementUnavailable.
    """
    try:
        return element_spec(key), ""
    except ElementUnavailable as error:
        if key != DEFAULT_ELEMENT_KEY:
            raise
        return None, f"{error.message} The form follows Dropbox's documented parameter table."


def choices(query: str = "") -> tuple[list[ListedElement], str]:
    """The elements to choose from (matching `query` in name or key, any case), and what went
    wrong reading them (the page shows it with a Retry)."""
    try:
        listed = catalog()
    except ElementUnavailable as error:
        return [], error.message
    words = query.lower().split()
    return [e for e in listed if all(w in f"{e.name} {e.key}".lower() for w in words)], ""
