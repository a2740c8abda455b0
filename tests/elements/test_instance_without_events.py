"""An instance of an element that sends no events (Sandbox Pay): created with an API key over
real HTTP, then shown, edited and switched without any event setting, and its other parameters
shown with secrets masked."""

from __future__ import annotations

import uuid

import pytest

from instances import services
from instances.cloud_elements import client as ce
from instances.models import ElementInstance
from tests.imports.scan_helpers import local, run_scan

pytestmark = pytest.mark.django_db(transaction=True)

API_KEY = "sk_test_secret_0123456789"


@pytest.fixture
def pay(sandbox_site, admin_client) -> ElementInstance:
    response = admin_client.post(
        "/instances/new/?element=sandboxpay",
        {
            "instance_uuid": str(uuid.uuid4()),
            "name": "Shop payments",
            "authentication_type": "apiKey",
            "api_key": API_KEY,
            "param_api_environment_sandbox": "on",
            "tags": "shop",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    instance = ElementInstance.objects.select_related("webhook").get(name="Shop payments")
    assert instance.status == ElementInstance.Status.ACTIVE
    return instance


def test_its_page_says_it_sends_no_events_and_shows_its_settings(pay, admin_client):
    page = admin_client.get(pay.get_absolute_url()).content.decode()

    assert 'id="no-events"' in page and "sends no events" in page
    assert 'role="switch"' not in page and "Simulate a change" not in page
    assert "<dt><code>api.environment.sandbox</code></dt><dd>true</dd>" in page
    assert API_KEY not in page


def test_editing_it_sends_name_and_tags_only(pay, admin_client, monkeypatch):
    sent = []
    real = ce.update_instance
    monkeypatch.setattr(ce, "update_instance", lambda i, c: sent.append(c) or real(i, c))
    edit = f"/instances/{pay.uuid}/edit/"
    assert "event_callback_url" not in admin_client.get(edit).content.decode()

    response = admin_client.post(edit, {"name": "Shop payments EU", "tags": "shop, eu"})

    assert response.status_code == 302, response.content.decode()[:3000]
    assert sent == [{"name": "Shop payments EU", "tags": ["shop", "eu"]}]
    assert ce.get_instance(pay.remote_id).name == "Shop payments EU"


def test_its_events_cannot_be_switched_on(pay, operator):
    with pytest.raises(services.ActionError, match="its element does not send any"):
        services.set_events(instance=pay, enabled=True, actor=operator)
    assert ce.get_instance(pay.remote_id).events_enabled is False


def test_the_admin_shows_its_other_parameters_with_secrets_masked(admin_client, make_instance):
    instance = make_instance("Vault", element_key="sandboxcrm")
    instance.set_extras([("crm.region", "eu", False), ("crm.token", "tok-0123456789abcd", True)])
    instance.save()

    page = admin_client.get(f"/admin/instances/elementinstance/{instance.pk}/change/")
    text = page.content.decode()

    assert page.status_code == 200
    assert "crm.region = &quot;eu&quot;" in text and "••••abcd" in text
    assert "tok-0123456789abcd" not in text


def test_an_imported_instance_of_it_knows_it_sends_no_events(sandbox_site, operator):
    made_elsewhere = ce.create_instance(
        {
            "element": {"key": "sandboxpay"},
            "configuration": {"authentication.type": "apiKey", "api.key": API_KEY},
            "name": "Made in the console",
        }
    )
    box = ce.create_instance(
        {
            "element": {"key": "dropbox"},
            "configuration": {"authentication.type": "apiKey", "api.key": API_KEY},
            "name": "Dropbox by key",
        }
    )

    job = run_scan(actor=operator)

    assert job.summary["imported"] == 2
    assert local(made_elsewhere.id).sends_events is False
    assert local(box.id).sends_events is True
