"""The instance form at /instances/new/ is the documented Dropbox parameter table.

Each field carries its documented label, API name (in code formatting), description and whether
it is optional, as the user's documentation has them; the defaults (element `dropbox`, oauth2,
events off, callback URLs from SITE_URL) are filled in, and secrets are password fields.
"""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from instances import parameters
from instances.elements.models import ElementMetadata
from instances.sandbox import catalog
from tests.instances.form_helpers import (
    NEW,
    codes_of,
    elements,
    help_of,
    label_of,
    row,
    text,
    value_of,
)

pytestmark = pytest.mark.usefixtures("fast_test_setup")


P = parameters.PARAMETERS


# (form field, documented API parameter, documented label)
DOCUMENTED_FIELDS = [
    ("name", "name", "Name"),
    ("element_key", "key", "key"),
    ("authentication_type", "authentication.type", "authentication.type"),
    ("oauth_callback_url", "oauth.callback.url", "oauth.callback.url"),
    ("oauth_api_key", "oauth.api.key", "oauth.api.key"),
    ("oauth_api_secret", "oauth.api.secret", "oauth.api.secret"),
    ("events_enabled", "event.notification.enabled", "Events Enabled"),
    ("event_callback_url", "event.notification.callback.url", "Event Notification Callback URL"),
    (
        "signature_key",
        "event.notification.signature.key",
        "Callback Notification Signature Key",
    ),
    ("tags", "tags", "tags"),
]


OPTIONAL_FIELDS = {"events_enabled", "signature_key", "tags"}


@pytest.fixture(params=["built-in table", "from metadata"])
def new_page(request, operator_client) -> str:
    """The page as built from Dropbox's element metadata (kept as the sandbox serves it, which
    tests/elements/test_dropbox_from_metadata.py reads over HTTP), and as its fallback when the
    metadata cannot be read: both are the documented table."""
    if request.param == "from metadata":
        ElementMetadata.objects.create(
            key="dropbox",
            name="Dropbox",
            element=catalog.element("dropbox"),
            metadata=catalog.metadata("dropbox"),
            fetched_at=timezone.now(),
        )
    response = operator_client.get(NEW)
    assert response.status_code == 200
    built_from_metadata = "documented parameter table." not in response.text
    assert built_from_metadata is (request.param == "from metadata")
    return response.text


# --- The documented table -------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "parameter", "label"), DOCUMENTED_FIELDS)
def test_each_field_carries_its_documented_label(new_page, field, parameter, label):
    assert label_of(new_page, field) == label


@pytest.mark.parametrize(("field", "parameter", "label"), DOCUMENTED_FIELDS)
def test_each_api_name_is_shown_in_code_formatting(new_page, field, parameter, label):
    # The documentation: "API parameters are in code formatting".
    assert parameter in codes_of(new_page, field)


@pytest.mark.parametrize(("field", "parameter", "label"), DOCUMENTED_FIELDS)
def test_each_field_shows_the_documented_description(new_page, field, parameter, label):
    assert P[parameter].description in help_of(new_page, field)


@pytest.mark.parametrize(("field", "parameter", "label"), DOCUMENTED_FIELDS)
def test_only_the_documented_optional_fields_say_optional(new_page, field, parameter, label):
    assert ("Optional" in text(row(new_page, field))) == (field in OPTIONAL_FIELDS)


def test_the_undocumented_api_key_names_the_parameter_it_is_sent_as(new_page):
    assert label_of(new_page, "api_key") == "API key"
    assert parameters.API_KEY_PARAMETER in codes_of(new_page, "api_key")
    assert "does not name this parameter" in help_of(new_page, "api_key")


def test_tags_explain_how_to_separate_them(new_page):
    assert "Separate tags with commas or new lines." in help_of(new_page, "tags")


# --- Defaults and widgets -------------------------------------------------------------------------


def test_the_element_key_defaults_to_dropbox(new_page):
    assert value_of(new_page, "element_key") == "dropbox"


def test_oauth2_is_the_default_authentication_type(new_page):
    (oauth2,) = elements(new_page, "input", name="authentication_type", value="oauth2")
    (api_key,) = elements(new_page, "input", name="authentication_type", value="apiKey")
    assert "checked" in oauth2
    assert "checked" not in api_key


def test_events_are_off_by_default(new_page):
    (checkbox,) = elements(new_page, "input", name="events_enabled")
    assert checkbox["type"] == "checkbox"
    assert "checked" not in checkbox


def test_the_callback_urls_are_prefilled_from_site_url(operator_client, settings):
    settings.SITE_URL = "https://dashboard.example.com"
    page = operator_client.get(NEW, HTTP_HOST="127.0.0.1").text

    instance_uuid = value_of(page, "instance_uuid")
    assert uuid.UUID(instance_uuid)
    assert value_of(page, "oauth_callback_url") == (
        "https://dashboard.example.com/instances/oauth/callback/"
    )
    assert value_of(page, "event_callback_url") == (
        f"https://dashboard.example.com/webhooks/{instance_uuid}/"
    )


def test_the_instance_uuid_is_hidden_and_new_for_every_form(operator_client):
    first = operator_client.get(NEW).text
    second = operator_client.get(NEW).text
    (hidden,) = elements(first, "input", name="instance_uuid")
    assert hidden["type"] == "hidden"
    assert value_of(first, "instance_uuid") != value_of(second, "instance_uuid")


def test_a_button_generates_a_strong_signature_key(new_page):
    (button,) = elements(new_page, "button", **{"class": "button generate-key"})
    assert button["type"] == "button"  # it fills the field, it does not submit
    assert button["data-target"] == "id_signature_key"
    assert "Generate a strong key" in text(row(new_page, "signature_key"))


def test_secrets_are_password_fields(new_page):
    for name in ("oauth_api_secret", "api_key", "signature_key"):
        (field,) = elements(new_page, "input", name=name)
        assert field["type"] == "password"
        assert "value" not in field
