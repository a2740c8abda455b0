"""The new-instance page for every element: the picker (searchable without JavaScript), the form
built from the chosen element's metadata, the pages that say why an element cannot be offered,
drafts of other elements, and the sandbox refusing what an element's metadata forbids."""

from __future__ import annotations

import html
import socket
import uuid

import pytest
from django.db import connection

from instances import consent
from instances.cloud_elements import client as ce
from instances.elements import services
from instances.elements.models import ElementMetadata, ListedElement
from instances.models import AuditEntry, ElementInstance
from instances.sandbox import catalog

pytestmark = pytest.mark.django_db(transaction=True)


def _closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/elements/api-v2"


def _crm_form(**changes) -> dict:
    data = {
        "instance_uuid": str(uuid.uuid4()),
        "name": "Sales CRM",
        "authentication_type": "oauth2",
        "oauth_callback_url": "http://127.0.0.1:8000/instances/oauth/callback/",
        "oauth_api_key": "crm-client",
        "oauth_api_secret": "crm-client-secret-01",
        "param_crm_region": "eu",
        "param_crm_include_archived": "on",
        "param_crm_page_size": "250",
        "event_callback_url": "https://hooks.example.com/crm/",
        "tags": "",
    }
    return {**data, **changes}


def test_the_picker_lists_the_catalog_and_searches_by_name_or_key_without_javascript(
    sandbox_site, admin_client
):
    page = admin_client.get("/instances/new/").content.decode()
    for element in catalog.ELEMENTS.values():
        assert f'?element={element["key"]}"' in page
    assert 'aria-current="true">Dropbox' in page  # the default element
    assert ListedElement.objects.count() == len(catalog.ELEMENTS)

    found = admin_client.get("/instances/new/?element=dropbox&q=DRIVE").content.decode()
    assert "?element=googledrive" in found and "?element=box" not in found
    found = admin_client.get("/instances/new/?q=sandboxpay").content.decode()
    assert "?element=sandboxpay" in found and "?element=googledrive" not in found
    none = admin_client.get("/instances/new/?q=nothing+like+it").content.decode()
    assert "No element matches “nothing like it”." in none


def test_a_chosen_elements_form_has_its_fields_in_their_sections(sandbox_site, admin_client):
    page = admin_client.get("/instances/new/?element=sandboxcrm").content.decode()

    assert 'id="element-parameters"' in page and "Sandbox CRM settings" in page
    region = page.index("field-param_crm_region")
    assert region < page.index("field-param_crm_include_archived")
    assert page.index("field-param_crm_include_archived") < page.index("field-param_crm_page_size")
    assert '<option value="eu">Europe</option>' in page
    assert 'name="element_key" value="sandboxcrm"' in page and "disabled" in page
    # Only oauth2: the API key row is not offered.
    assert "field-api_key" not in page and 'value="apiKey"' not in page


def test_a_crm_draft_keeps_its_parameters_and_sends_them_after_the_documented_ones(
    sandbox_site, admin_client
):
    response = admin_client.post("/instances/new/?element=sandboxcrm", _crm_form())
    assert response.status_code == 302
    instance = ElementInstance.objects.get(name="Sales CRM")
    assert instance.element_key == "sandboxcrm"
    assert instance.extras == [
        ("crm.region", "eu", False),
        ("crm.include.archived", True, False),
        ("crm.page.size", "250", False),
    ]
    payload = consent.build_instance_payload(instance, code="c0de")
    assert list(payload["configuration"]) == [
        "oauth.api.key",
        "oauth.api.secret",
        "oauth.callback.url",
        "crm.region",
        "crm.include.archived",
        "crm.page.size",
        "event.notification.enabled",
        "event.notification.callback.url",
    ]
    # Encrypted at rest, whole.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT extra_configuration FROM instances_elementinstance WHERE id = %s",
            [instance.pk],
        )
        stored = cursor.fetchone()[0]
    assert stored and "crm.region" not in stored and "eu" not in stored.split('"')


def test_a_choice_outside_its_options_is_refused_and_what_was_typed_stays(
    sandbox_site, admin_client
):
    response = admin_client.post(
        "/instances/new/?element=sandboxcrm", _crm_form(param_crm_region="mars")
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Select a valid choice. mars is not one of the available choices." in page
    assert 'value="Sales CRM"' in page and 'value="250"' in page
    assert not ElementInstance.objects.filter(name="Sales CRM").exists()


def test_editing_a_drafts_other_parameters_is_audited_by_key(sandbox_site, admin_client):
    admin_client.post("/instances/new/?element=sandboxcrm", _crm_form())
    instance = ElementInstance.objects.get(name="Sales CRM")
    consent.ElementInstance.objects.filter(pk=instance.pk).update(status="draft")
    edit = f"/instances/{instance.uuid}/edit/"

    page = admin_client.get(edit).content.decode()
    assert '<option value="eu" selected>Europe</option>' in page
    assert 'value="250"' in page
    data = _crm_form(param_crm_region="us", param_crm_page_size="250", oauth_api_secret="")
    data.pop("instance_uuid")
    response = admin_client.post(edit, {**data, "element_key": "box"})
    assert response.status_code == 302, response.content.decode()[:2000]

    instance.refresh_from_db()
    assert instance.element_key == "sandboxcrm"  # the element is not changed by an edit
    assert dict((k, v) for k, v, _ in instance.extras)["crm.region"] == "us"
    assert instance.oauth_api_secret == "crm-client-secret-01"  # blank kept it
    entry = instance.audit_entries.filter(action=AuditEntry.Action.UPDATED).get()
    assert "crm.region" in entry.detail and "crm.page.size" not in entry.detail


def test_an_element_whose_metadata_cannot_be_read_gets_a_clear_page_with_retry(
    admin_client, settings
):
    settings.CLOUD_ELEMENTS_BASE_URL = _closed_port()
    response = admin_client.get("/instances/new/?element=box")

    assert response.status_code == 502
    page = response.content.decode()
    assert "The description of the element “box” could not be read from Cloud Elements" in page
    assert 'href="/instances/new/?element=box">Retry</a>' in page
    assert 'id="instance-form"' not in page
    assert "The list of elements could not be read" in page


def test_dropbox_falls_back_to_its_documented_table_and_says_so(admin_client, settings):
    settings.CLOUD_ELEMENTS_BASE_URL = _closed_port()
    response = admin_client.get("/instances/new/")

    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert "The form follows Dropbox's documented parameter table." in page
    assert 'id="instance-form"' in page and "field-oauth_api_secret" in page


def test_an_unknown_element_is_a_404_page(sandbox_site, admin_client):
    response = admin_client.get("/instances/new/?element=nosuchelement")
    assert response.status_code == 404
    assert "Cloud Elements has no element “nosuchelement”." in response.content.decode()
    response = admin_client.get("/instances/new/?element=Not-A-Key")
    assert response.status_code == 404
    assert "“Not-A-Key” is not an element key." in response.content.decode()


def test_an_element_with_an_authentication_the_dashboard_cannot_create_says_so(
    sandbox_site, admin_client
):
    services.element_spec("box")
    row = ElementMetadata.objects.get(key="box")
    row.element = {**row.element, "authentication": {"type": "basic"}}
    row.save()

    response = admin_client.get("/instances/new/?element=box")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Box authenticates with basic, which this dashboard cannot create yet" in page
    assert 'id="instance-form"' not in page
    assert admin_client.post("/instances/new/?element=box", {"name": "x"}).status_code == 422


def test_read_again_refreshes_the_list_and_the_element(sandbox_site, admin_client):
    services.element_spec("box")
    ElementMetadata.objects.filter(key="box").update(name="Old Box")
    ListedElement.objects.all().delete()
    ListedElement.objects.create(key="gone", name="Gone", listed_at="2026-01-01T00:00Z")

    response = admin_client.post("/instances/new/refresh/", {"element": "box"}, follow=True)
    assert "Read the list of elements and Box&#x27;s parameters again" in response.content.decode()
    assert ElementMetadata.objects.get(key="box").name == "Box"
    assert not ListedElement.objects.filter(key="gone").exists()
    assert ListedElement.objects.filter(key="googledrive").exists()


def test_the_sandbox_refuses_what_an_elements_metadata_forbids(sandbox_site):
    base = {"element": {"key": "sandboxpay"}, "name": "Pay"}
    with pytest.raises(ce.CloudElementsError) as raised:
        ce.create_instance({**base, "configuration": {"authentication.type": "oauth2"}})
    assert "'authentication.type' must be apiKey." in raised.value.message
    with pytest.raises(ce.CloudElementsError) as raised:
        ce.create_instance(
            {
                **base,
                "configuration": {
                    "authentication.type": "apiKey",
                    "api.key": "k",
                    "event.notification.enabled": True,
                    "event.notification.callback.url": "https://hooks.example.com/",
                },
            }
        )
    assert "does not support events" in raised.value.message
    with pytest.raises(ce.CloudElementsError) as raised:
        ce.get_oauth_url(
            element_key="sandboxpay",
            api_key="a",
            api_secret="b",
            callback_url="https://x/",
            state="s",
        )
    assert "does not use OAuth2" in raised.value.message


def test_read_again_refuses_what_is_no_element_key(sandbox_site, admin_client):
    response = admin_client.post("/instances/new/refresh/", {"element": "../x"}, follow=True)
    assert response.status_code == 200
    assert "“../x” is not an element key." in response.content.decode()
