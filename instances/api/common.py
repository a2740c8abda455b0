"""What the API's operations share: error answers, finding an instance, calling a service."""

from __future__ import annotations

from uuid import UUID

from django.http import QueryDict

from instances import services
from instances.api import present
from instances.api.auth import ApiError
from instances.api.schemas import Problem
from instances.cloud_elements import client as ce
from instances.forms import InstanceFilterForm
from instances.models import ElementInstance

ERRORS = {400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem, 429: Problem}
REMOTE_ERRORS = {**ERRORS, 502: Problem}


def form_errors(form) -> dict[str, list[str]]:
    return {field: [str(e) for e in errors] for field, errors in form.errors.items()}


def filtered(values: dict) -> InstanceFilterForm:
    """The dashboard list's filter form on these values; 400 with its errors when invalid."""
    unknown = sorted(set(values) - set(InstanceFilterForm.base_fields))
    if unknown:
        # A misspelt filter must not widen a bulk job to every instance.
        raise ApiError(
            400, "Some filters are not valid.", {k: ["No such filter."] for k in unknown}
        )
    data = QueryDict(mutable=True)
    data.update({k: v for k, v in values.items() if v})
    form = InstanceFilterForm(data)
    if not form.is_valid():
        raise ApiError(400, "Some filters are not valid.", form_errors(form))
    return form


def find(value) -> ElementInstance:
    """The instance with this uuid (with what its answer shows), or 404."""
    try:
        key = value if isinstance(value, UUID) else UUID(str(value))
    except ValueError:
        raise ApiError(404, "No instance has this uuid.") from None
    found = present.instances_for_listing(ElementInstance.objects.filter(uuid=key)).first()
    if found is None:
        raise ApiError(404, "No instance has this uuid.")
    return found


def answer(instance: ElementInstance) -> dict:
    """The instance as it is now (read again after a change)."""
    return present.instance(find(instance.uuid))


def calling_cloud_elements(action):
    """Run a service; its refusals as 409 (the instance's state) or 502 (Cloud Elements)."""
    try:
        return action()
    except services.ActionError as error:
        raise ApiError(409, error.message) from None
    except ce.CloudElementsError as error:
        note = " It may have been applied: read the instance again." if error.ambiguous else ""
        raise ApiError(502, f"Cloud Elements: {error.message}{note}") from None
