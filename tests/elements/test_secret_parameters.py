"""An element's own secret parameters: a draft's is never shown back (the edit page says it is
stored, masked, and a blank field keeps it; a new value replaces it); an apiKey element whose
metadata names its own key entries is not asked for the documented `api.key` as well."""

from __future__ import annotations

import uuid

import pytest

from instances import consent
from instances.elements.spec import parse
from instances.forms import DraftForm, InstanceForm

pytestmark = pytest.mark.django_db

SPEC = parse(
    {
        "key": "vault",
        "name": "Vault",
        "authentication": {"type": "oauth2"},
        "configuration": [
            {"key": "vault.token", "name": "Vault token", "type": "PASSWORD", "required": True},
            {"key": "vault.region", "name": "Region", "type": "TEXTFIELD_10", "required": True},
        ],
    },
    {"events": {"supported": False}},
)
TOKEN = "vault-token-0123456789"


@pytest.fixture
def draft(make_instance):
    instance = make_instance("Vault draft", element_key="vault", sends_events=False)
    instance.set_extras([("vault.token", TOKEN, True), ("vault.region", "eu", False)])
    instance.save()
    return instance


def _post(draft, **changes):
    data = {
        "name": draft.name,
        "authentication_type": "oauth2",
        "oauth_callback_url": draft.oauth_callback_url,
        "oauth_api_key": draft.oauth_api_key,
        "secret_param_vault_token": "",
        "param_vault_region": "eu",
        "tags": "",
    }
    return DraftForm({**data, **changes}, instance=draft, spec=SPEC)


def test_the_stored_secret_is_masked_and_kept_when_left_blank(draft):
    unbound = DraftForm(instance=draft, spec=SPEC)
    token = unbound["secret_param_vault_token"]
    assert "Stored: ••••6789. Leave blank to keep it." in token.help_text
    assert TOKEN not in str(token) and TOKEN not in str(unbound)
    assert unbound["param_vault_region"].value() == "eu"

    form = _post(draft, param_vault_region="us")
    assert form.is_valid(), form.errors
    assert form.cleaned_data["extras"] == [
        ("vault.token", TOKEN, True),
        ("vault.region", "us", False),
    ]


def test_a_new_secret_replaces_it_and_a_required_one_stays_required_without_a_stored_one(
    draft, make_instance
):
    form = _post(draft, secret_param_vault_token="vault-token-new-000000")
    assert form.is_valid(), form.errors
    assert form.cleaned_data["extras"][0] == ("vault.token", "vault-token-new-000000", True)

    empty = make_instance("Empty vault", element_key="vault", sends_events=False)
    form = _post(empty)
    assert not form.is_valid()
    assert form.errors["secret_param_vault_token"] == ["This field is required."]


def test_an_api_key_element_with_its_own_key_entries_has_no_extra_api_key_field(make_instance):
    keyed = parse(
        {
            "key": "mailer",
            "name": "Mailer",
            "authentication": {"type": "apiKey"},
            "configuration": [
                {"key": "mailer.secret", "name": "Secret", "type": "PASSWORD", "required": True}
            ],
        },
        {"events": {"supported": False}},
    )
    form = InstanceForm(
        {
            "instance_uuid": str(uuid.uuid4()),
            "name": "Newsletter",
            "authentication_type": "apiKey",
            "secret_param_mailer_secret": "mailer-secret-000",
            "tags": "",
        },
        spec=keyed,
    )

    assert "api_key" not in form.fields
    assert form.is_valid(), form.errors
    instance = consent.create_draft(data=form.cleaned_data, actor=None)
    assert consent.build_instance_payload(instance)["configuration"] == {
        "authentication.type": "apiKey",
        "mailer.secret": "mailer-secret-000",
    }
