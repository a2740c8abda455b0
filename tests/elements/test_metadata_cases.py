"""Each kind of element the catalog covers, read through the real client from the sandbox:
types, hidden entries, choices, polling, no events, an unknown type; and what happens when the
description cannot be read."""

from __future__ import annotations

import logging

import pytest
from django import forms

from instances.cloud_elements import client as ce
from instances.elements import services, spec
from instances.elements.forms import form_fields
from instances.elements.models import ElementMetadata

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_client_lists_the_catalog_without_configurations(sandbox_site):
    listed = ce.list_elements()

    assert {e["key"] for e in listed} >= {"dropbox", "box", "googledrive", "sandboxpay"}
    assert all("configuration" not in e for e in listed)
    examples = {e["key"] for e in listed if e.get("sandboxExample")}
    assert "dropbox" not in examples and {"box", "googledrive", "sandboxpay"} <= examples


def test_a_polling_element_has_the_poller_fields_and_a_choice(sandbox_site):
    drive = services.element_spec("googledrive")

    assert drive.events_supported and drive.polls
    interval = drive.field("event.poller.refresh_interval")
    assert (interval.kind, interval.max_length, interval.default) == ("text", 32, "15")
    objects = form_fields(drive)["event.poller.objects"]
    assert isinstance(objects, forms.ChoiceField)
    assert [value for value, _ in objects.choices] == ["files", "folders", "files,folders"]
    assert objects.initial == "files"


def test_an_element_without_events_has_no_event_section(sandbox_site):
    pay = services.element_spec("sandboxpay")

    assert not pay.events_supported and pay.event_fields() == []
    assert pay.authentication_types == ("apiKey",)
    fields = form_fields(pay)
    assert list(fields) == ["api.key", "api.environment.sandbox"]
    assert isinstance(fields["api.key"].widget, forms.PasswordInput)
    assert isinstance(fields["api.environment.sandbox"], forms.BooleanField)
    assert fields["api.environment.sandbox"].initial is True


def test_hidden_and_internal_entries_are_left_out(sandbox_site):
    dropbox = services.element_spec("dropbox")

    assert dropbox.field("oauth.user.refresh_token") is None
    assert "oauth.user.refresh_token" in str(ElementMetadata.objects.get(key="dropbox").element)


def test_an_unknown_type_becomes_a_text_field_logged_once(sandbox_site, caplog):
    spec._unknown_logged.discard("NUMBER")
    with caplog.at_level(logging.WARNING, logger="instances.elements.spec"):
        crm = services.element_spec("sandboxcrm")
        services.element_spec("sandboxcrm", refresh_now=True)

    size = crm.field("crm.page.size")
    assert (size.kind, size.default) == ("text", "100")
    assert isinstance(form_fields(crm)["crm.page.size"], forms.CharField)
    warned = [r for r in caplog.records if "NUMBER" in r.getMessage()]
    assert len(warned) == 1
    region = form_fields(crm)["crm.region"]
    assert region.choices == [("us", "United States"), ("eu", "Europe")]


def test_an_element_cloud_elements_does_not_have_is_a_clear_404(sandbox_site):
    with pytest.raises(services.ElementUnavailable) as raised:
        services.element_spec("nosuchelement")

    assert raised.value.status == 404
    assert "nosuchelement" in raised.value.message


def test_unreadable_metadata_is_a_clear_error_or_the_kept_copy(sandbox_site, monkeypatch):
    def fail(key):
        raise ce.CloudElementsServerError("Cloud Elements answered 503.", status=503)

    monkeypatch.setattr(services.ce, "get_element", fail)
    with pytest.raises(services.ElementUnavailable) as raised:
        services.element_spec("box")
    assert raised.value.status == 502
    assert "could not be read" in raised.value.message and "503" in raised.value.message

    monkeypatch.undo()
    services.element_spec("box")  # kept now
    monkeypatch.setattr(services.ce, "get_element", fail)
    kept = services.element_spec("box", refresh_now=True)
    assert kept.name == "Box" and kept.field("oauth.api.key") is not None


def test_the_instance_page_shows_the_elements_name_as_a_badge(
    sandbox_site, admin_client, make_instance
):
    box = make_instance("Team Box", element_key="box")
    page = admin_client.get(box.get_absolute_url()).content.decode()
    # Never read: the key stands in, and the page made no call to Cloud Elements.
    assert '<span class="element-badge" id="element-badge">box</span>' in page

    services.element_spec("box")
    page = admin_client.get(box.get_absolute_url()).content.decode()
    assert '<span class="element-badge" id="element-badge">Box</span> <code>box</code>' in page


def test_the_list_suggests_the_elements_it_knows_and_filters_by_one(
    sandbox_site, admin_client, make_instance
):
    make_instance("Team Box", element_key="box")
    make_instance("Team Dropbox", element_key="dropbox")
    services.element_spec("box")

    page = admin_client.get("/instances/?element=box").content.decode()

    assert '<datalist id="known-elements"><option value="box">Box</option></datalist>' in page
    assert "Team Box" in page and "Team Dropbox" not in page
