"""`/api/v1/consent-links`: the team's app asks for a link when its customer clicks "Connect"
(a new draft from the parameters, or an existing draft or active instance), reads how far the
owner got, or revokes it. The same form rules and link service as the dashboard's pages."""

from __future__ import annotations

import re
import secrets
import uuid

from django.db import transaction
from django.http import HttpRequest
from ninja import Router, Status

from instances import consent, owners, parameters
from instances.api import present
from instances.api.auth import READ, WRITE, ApiError, require
from instances.api.common import ERRORS, find, form_errors
from instances.api.schemas import ConsentLink, ConsentLinkRequest, NewInstance
from instances.elements import services as elements
from instances.elements.services import ELEMENT_KEY, ElementUnavailable
from instances.elements.spec import ElementSpec
from instances.forms import InstanceForm, oauth_callback_url, webhook_url
from instances.links import services as links
from instances.links.forms import ConsentLinkForm
from instances.links.models import ConsentLink as Link
from instances.services import ActionError

router = Router(tags=["consent links"])


@router.post(
    "/consent-links",
    response={201: ConsentLink, **ERRORS},
    summary="Make a consent link",
)
def make_link(request: HttpRequest, body: ConsentLinkRequest):
    """With `new_instance`: saves a draft from the documented parameters, then its link (the
    owner's consent creates it at Cloud Elements). With `instance`: a link for that draft, or a
    re-authorization link for that active instance (it keeps its Cloud Elements id). Any older
    link of the instance is revoked."""
    if (body.instance is None) == (body.new_instance is None):
        raise ApiError(
            400,
            "Give either `instance` or `new_instance`.",
            {
                "instance": ["Give either this or `new_instance`."],
            },
        )
    extras = ConsentLinkForm(
        {"note": body.note, "success_url": body.success_url, "error_url": body.error_url}
    )
    if not extras.is_valid():
        raise ApiError(400, "Some fields are not valid.", form_errors(extras))
    if body.new_instance is not None:
        require(request, WRITE, "instances.add_elementinstance")
        form = _instance_form(body.new_instance)
        if not form.is_valid():
            errors = {f"new_instance.{_api_name(form, k)}": v for k, v in form_errors(form).items()}
            raise ApiError(400, "Some parameters are not valid.", errors)
        try:
            owner = (
                owners.clean_name(body.new_instance.owner_name),
                owners.clean_email(body.new_instance.owner_email),
            )
        except owners.OwnerError as error:
            raise ApiError(
                400, error.message, {"new_instance.owner_email": [error.message]}
            ) from None
        with transaction.atomic():
            instance = consent.create_draft(data=form.cleaned_data, actor=request.user)
            if owner[1]:
                owners.set_owner(
                    instance=instance, name=owner[0], email=owner[1], actor=request.user
                )
            link = _make(instance, request, extras.cleaned_data)
    else:
        require(request, WRITE)
        link = _make(find(body.instance), request, extras.cleaned_data)
    return Status(201, present.consent_link(link, with_url=True))


def _make(instance, request, extras: dict) -> Link:
    try:
        return links.make_link(instance=instance, actor=request.user, **extras)
    except ActionError as error:
        raise ApiError(409, error.message) from None


def _instance_form(new: NewInstance) -> InstanceForm:
    """The dashboard's form for the element, filled as its page would be: defaults for what was
    left out."""
    spec = _oauth2_spec(new.element_key)
    instance_uuid = uuid.uuid4()
    signature_key = new.signature_key
    if new.events_enabled and not signature_key:
        signature_key = secrets.token_urlsafe(32)  # as the form's "Generate a strong key"
    return InstanceForm(
        {
            **_other_parameters(spec, new.configuration),
            "instance_uuid": str(instance_uuid),
            "name": new.name,
            "element_key": new.element_key,
            "authentication_type": parameters.OAUTH2,
            "oauth_api_key": new.oauth_api_key,
            "oauth_api_secret": new.oauth_api_secret,
            "oauth_callback_url": new.oauth_callback_url or oauth_callback_url(),
            "events_enabled": "on" if new.events_enabled else "",
            "event_callback_url": new.event_callback_url or webhook_url(instance_uuid),
            "signature_key": signature_key or "",
            "tags": ", ".join(new.tags),
        },
        spec=spec,
    )


def _oauth2_spec(key: str) -> ElementSpec | None:
    """The element's spec (None: Dropbox's documented table), refused unless it offers oauth2."""
    try:
        if not re.fullmatch(ELEMENT_KEY, key):
            raise ElementUnavailable(f"“{key}” is not an element key.", 400)
        spec, _ = elements.for_new_instance(key)
    except ElementUnavailable as error:
        errors = {"new_instance.element_key": [error.message]}
        raise ApiError(error.status, error.message, errors) from None
    if spec is not None and parameters.OAUTH2 not in spec.authentication_types:
        message = f"A consent link is for oauth2: {spec.name} does not use it."
        raise ApiError(400, message, {"new_instance.element_key": [message]})
    return spec


def _other_parameters(spec: ElementSpec | None, given: dict) -> dict[str, str]:
    """The element's other parameters as the form's fields: given ones, else its defaults."""
    fields = InstanceForm(spec=spec).extra_fields if spec is not None else {}
    names = {found.key: name for name, found in fields.items()}
    unknown = sorted(set(given) - set(names))
    if unknown:
        element = spec.name if spec is not None else "Dropbox"
        message = f"{element} has no such parameter: {', '.join(unknown)}."
        raise ApiError(400, message, {"new_instance.configuration": [message]})
    data = {}
    for key, name in names.items():
        value = given.get(key, fields[name].default)
        if isinstance(value, bool):
            value = "on" if value else ""
        data[name] = "" if value is None else value
    return data


def _api_name(form: InstanceForm, name: str) -> str:
    found = form.extra_fields.get(name)
    return f"configuration.{found.key}" if found is not None else name


def _link(link_id: int) -> Link:
    found = Link.objects.select_related("instance").filter(pk=link_id).first()
    if found is None:
        raise ApiError(404, "No consent link has this id.")
    return found


@router.get("/consent-links/{link_id}", response={200: ConsentLink, **ERRORS}, summary="Read")
def read_link(request: HttpRequest, link_id: int):
    """Its state: waiting, opened, completed, expired or revoked; and its instance's status
    (active once the owner's consent went through)."""
    require(request, READ)
    may_send = request.user.has_perm("instances.change_elementinstance")
    return present.consent_link(_link(link_id), with_url=may_send and request.auth.allows(WRITE))


@router.delete("/consent-links/{link_id}", response={200: ConsentLink, **ERRORS}, summary="Revoke")
def revoke_link(request: HttpRequest, link_id: int):
    require(request, WRITE)
    link = _link(link_id)
    try:
        links.revoke_link(link=link, actor=request.user)
    except ActionError as error:
        raise ApiError(409, error.message) from None
    return present.consent_link(_link(link_id), with_url=False)
