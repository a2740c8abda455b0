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
from django.utils import timezone

from instances.cloud_elements import client as ce
from instances.elements.models import ElementMetadata
from instances.elements.spec import ElementSpec, parse

logger = logging.getLogger(__name__)


class ElementUnavailable(Exception):
    def __init__(self, message: str, status: int = 502) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _fresh(row: ElementMetadata) -> bool:
    age = timedelta(hours=settings.ELEMENT_METADATA_CACHE_HOURS)
    return timezone.now() - row.fetched_at < age


def element_name(key: str) -> str:
    """The element's name as last read from Cloud Elements (no remote call), else its key."""
    found = ElementMetadata.objects.filter(key=key).values_list("name", flat=True).first()
    return found or key


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
    if row is not None and not refresh_now and _fresh(row):
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
