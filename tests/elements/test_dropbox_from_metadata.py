"""Dropbox stays exact: its parameters read from its element metadata (the real client, over
HTTP, against the sandbox) equal the documented parameter table in tests/data, entry for entry,
and so do the form fields built from them."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from django import forms

from instances import consent
from instances.elements import services
from instances.elements.forms import form_fields
from instances.elements.models import ElementMetadata
from instances.models import ElementInstance

pytestmark = pytest.mark.django_db(transaction=True)

DATA = Path(__file__).resolve().parents[1] / "data"
TABLE = {
    p["name"]: p for p in json.loads((DATA / "dropbox_parameters.json").read_text())["parameters"]
}
# The table's entries, in its order, that are `configuration` in the documented instance JSON;
# the others (key, code, name, authentication.type, tags) are the instance's own fields, the
# same for every element.
DOCUMENTED = json.loads((DATA / "dropbox_instance.json").read_text())["configuration"]
CONFIGURATION = [name for name in TABLE if name in DOCUMENTED]


def test_every_configuration_parameter_of_the_table_comes_from_the_metadata(sandbox_site):
    spec = services.element_spec("dropbox")

    assert [f.key for f in spec.fields] == CONFIGURATION  # in the table's order, none hidden
    for parameter in spec.fields:
        documented = TABLE[parameter.key]
        assert parameter.label == documented["label"]
        assert parameter.description == documented["description"]
        assert ("boolean" if parameter.kind == "boolean" else "string") == documented["data_type"]
        assert parameter.required is not documented["optional"], parameter.key
        assert parameter.default == documented["default"], parameter.key
    # "Identifies how you are authenticating with Dropbox. Either oauth2 or apiKey."
    assert spec.authentication_types == ("oauth2", "apiKey")
    assert TABLE["authentication.type"]["default"] == spec.authentication_types[0]
    assert spec.events_supported and spec.event_methods == ("webhook",)
    # The secrets are secrets, whatever their published type says.
    assert {f.key for f in spec.fields if f.kind == "secret"} == {
        "oauth.api.key",
        "oauth.api.secret",
        "event.notification.signature.key",
    }


def test_the_form_fields_built_from_it_say_what_the_table_says(sandbox_site):
    fields = form_fields(services.element_spec("dropbox"))

    assert list(fields) == CONFIGURATION
    for key, field in fields.items():
        documented = TABLE[key]
        assert field.label == documented["label"]
        assert field.help_text == documented["description"]
        if documented["data_type"] == "boolean":
            assert isinstance(field, forms.BooleanField)
            assert field.required is False and field.initial is documented["default"]
        else:
            assert field.required is not documented["optional"], key
            assert field.initial == documented["default"]
    secret = fields["oauth.api.secret"].widget
    assert isinstance(secret, forms.PasswordInput) and secret.render_value is False


def test_the_description_is_kept_and_read_again_only_when_old_or_refreshed(
    sandbox_site, settings, monkeypatch
):
    services.element_spec("dropbox")
    kept = ElementMetadata.objects.get(key="dropbox")
    assert kept.name == "Dropbox" and kept.element["key"] == "dropbox"

    calls = []
    real = services.ce.get_element
    monkeypatch.setattr(services.ce, "get_element", lambda key: calls.append(key) or real(key))
    services.element_spec("dropbox")
    assert calls == []  # from what is kept
    services.element_spec("dropbox", refresh_now=True)
    assert calls == ["dropbox"]
    settings.ELEMENT_METADATA_CACHE_HOURS = 0
    services.element_spec("dropbox")
    assert calls == ["dropbox", "dropbox"]


def test_a_dropbox_instance_typed_into_that_form_sends_the_documented_json_text(
    sandbox_site, admin_client
):
    typed = {
        "<CLIENT_ID>": "my-app-key",
        "<CLIENT_SECRET>": "my-app-secret-0001",
        "https://www.mycoolapp.com/auth": "https://www.mycoolapp.com/auth",
        "<INSERT_YOUR_APPS_CALLBACK_URL>": "https://www.mycoolapp.com/events",
        "<INSERT_KEY>": "my-signature-key-000000",
        "<ADD_YOUR_TAGS>": "finance",
        "<INSTANCE_NAME>": "Finance Dropbox",
        "<AUTHORIZATION_GRANT_CODE>": "code-1",
    }
    response = admin_client.post(
        "/instances/new/?element=dropbox",
        {
            "instance_uuid": str(uuid.uuid4()),
            "name": typed["<INSTANCE_NAME>"],
            "authentication_type": "oauth2",
            "oauth_callback_url": typed["https://www.mycoolapp.com/auth"],
            "oauth_api_key": typed["<CLIENT_ID>"],
            "oauth_api_secret": typed["<CLIENT_SECRET>"],
            "events_enabled": "on",
            "event_callback_url": typed["<INSERT_YOUR_APPS_CALLBACK_URL>"],
            "signature_key": typed["<INSERT_KEY>"],
            "tags": typed["<ADD_YOUR_TAGS>"],
            "send_link": "1",  # a draft and its link: nothing is sent yet
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert ElementMetadata.objects.filter(key="dropbox").exists()  # the form was built from it
    instance = ElementInstance.objects.get(name="Finance Dropbox")

    payload = consent.build_instance_payload(instance, code="code-1")

    expected = (DATA / "dropbox_instance.json").read_text()
    for placeholder, value in typed.items():
        expected = expected.replace(placeholder, value)
    # Byte for byte, in the documented order.
    assert json.dumps(payload, indent=2) == expected.strip()
