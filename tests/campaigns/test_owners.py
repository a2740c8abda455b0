"""Owners on instances: set on the instance page or the edit form, imported from a CSV, shown,
searched and filtered on the list; a bad address is refused with a clear message."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from instances.models import AuditEntry, ElementInstance

pytestmark = pytest.mark.django_db
ACTIVE = ElementInstance.Status.ACTIVE


@pytest.fixture
def signed_in(client, operator):
    client.force_login(operator)
    return client


def reloaded(instance: ElementInstance) -> ElementInstance:
    return ElementInstance.objects.get(pk=instance.pk)


def test_the_instance_page_sets_the_owner_and_records_it(signed_in, make_instance):
    instance = make_instance("Finance Dropbox")
    page = signed_in.get(instance.get_absolute_url()).text
    assert "No owner recorded" in page and 'name="owner_email"' in page

    url = reverse("campaigns:owner", args=[instance.uuid])
    response = signed_in.post(url, {"owner_name": " Bob  Smith ", "owner_email": "Bob@Example.COM"})
    assert response.status_code == 302
    instance = reloaded(instance)
    assert (instance.owner_name, instance.owner_email) == ("Bob Smith", "bob@example.com")
    entry = instance.audit_entries.get(action=AuditEntry.Action.OWNER_CHANGED)
    assert entry.detail == "Owner: Bob Smith <bob@example.com>."
    assert "bob@example.com" in signed_in.get(instance.get_absolute_url()).text


@pytest.mark.parametrize(
    ("name", "email", "message"),
    [
        ("Bob", "not-an-address", "“not-an-address” is not an e-mail address."),
        ("Bob", "", "Give the owner&#x27;s e-mail address too"),
        ("<b>Bob</b>", "bob@example.com", "An owner&#x27;s name cannot contain &lt; or &gt;."),
    ],
)
def test_a_bad_owner_is_refused_with_the_reason_and_nothing_changes(
    signed_in, make_instance, name, email, message
):
    instance = make_instance("Finance Dropbox", owner_email="old@example.com")
    url = reverse("campaigns:owner", args=[instance.uuid])
    response = signed_in.post(url, {"owner_name": name, "owner_email": email}, follow=True)
    assert response.status_code == 200
    assert "The owner was not changed." in response.text and message in response.text
    assert reloaded(instance).owner_email == "old@example.com"


def test_an_empty_form_removes_the_owner(signed_in, make_instance):
    instance = make_instance("Finance Dropbox", owner_name="Bob", owner_email="bob@example.com")
    url = reverse("campaigns:owner", args=[instance.uuid])
    signed_in.post(url, {"owner_name": "", "owner_email": ""})
    assert (reloaded(instance).owner_name, reloaded(instance).owner_email) == ("", "")
    assert instance.audit_entries.get().detail == "Owner removed."


def test_a_viewer_cannot_change_the_owner(client, viewer, make_instance):
    instance = make_instance("Finance Dropbox")
    client.force_login(viewer)
    url = reverse("campaigns:owner", args=[instance.uuid])
    assert client.post(url, {"owner_email": "x@example.com"}).status_code == 403
    assert reloaded(instance).owner_email == ""


def test_the_edit_form_keeps_the_owner_here_and_says_so_when_cloud_elements_fails(
    signed_in, make_instance, monkeypatch
):
    from instances.cloud_elements import client as ce

    instance = make_instance("Finance Dropbox", status=ACTIVE, remote_id=77)

    def refuse(remote_id, changes):
        raise ce.CloudElementsError("Cloud Elements refused the change (400).", status=400)

    monkeypatch.setattr(ce, "update_instance", refuse)
    form = signed_in.get(reverse("instances:edit", args=[instance.uuid])).text
    assert 'name="owner_email"' in form
    response = signed_in.post(
        reverse("instances:edit", args=[instance.uuid]),
        {
            "name": "Finance Dropbox",
            "tags": "",
            "event_callback_url": "https://hooks.example.com/x",
            "owner_name": "Carol",
            "owner_email": "carol@example.com",
        },
    )
    assert response.status_code == 400
    assert "The owner was saved here. Nothing was changed at Cloud Elements." in response.text
    assert reloaded(instance).owner_email == "carol@example.com"


def test_the_list_shows_searches_and_filters_owners(signed_in, make_instance):
    make_instance("Alpha", owner_name="Dana Scully", owner_email="dana@fbi.example")
    make_instance("Beta", owner_name="Fox Mulder", owner_email="fox@fbi.example")
    make_instance("Gamma")
    index = reverse("instances:index")

    page = signed_in.get(index).text
    assert "dana@fbi.example" in page and "fox@fbi.example" in page
    assert "Beta" in signed_in.get(index, {"q": "FOX@fbi.example"}).text
    found = signed_in.get(index, {"q": "FOX@fbi.example"}).text
    assert "Alpha" not in found and "Gamma" not in found
    found = signed_in.get(index, {"q": "scully"}).text
    assert "Alpha" in found and "Beta" not in found
    without = signed_in.get(index, {"owner": "no"}).text
    assert "Gamma" in without and "Alpha" not in without and "Beta" not in without
    assert "2 instances match" in signed_in.get(index, {"owner": "yes"}).text


def upload(client, text: str | bytes):
    data = text.encode() if isinstance(text, str) else text
    csv_file = SimpleUploadedFile("owners.csv", data, content_type="text/csv")
    return client.post(reverse("campaigns:owners_import"), {"file": csv_file})


def test_owners_import_from_a_csv_by_id_or_name_and_lists_the_bad_rows(signed_in, make_instance):
    by_id = make_instance("By id", status=ACTIVE, remote_id=4242)
    by_name = make_instance("By name")
    unchanged = make_instance("Same", owner_name="Sam", owner_email="sam@example.com")
    make_instance("Twin")
    make_instance("Twin")
    text = (
        "cloud elements id or name,owner name,owner e-mail\n"
        "4242,Ann Lee,ANN@example.com\n"
        "By name,Ben,ben@example.com\n"
        "Same,Sam,sam@example.com\n"
        "Nobody,Zed,zed@example.com\n"
        "Twin,Tia,tia@example.com\n"
        "By name,Ben,not-an-address\n"
        "By name,Ben\n"
        "\n"
    )
    response = upload(signed_in, text)
    assert response.status_code == 200
    assert "2 owners saved, 1 unchanged, 4 rows refused." in response.text
    for line, reason in [
        (5, "No instance has the Cloud Elements id or name “Nobody”."),
        (6, "2 instances are named “Twin”: use the Cloud Elements id."),
        (7, "“not-an-address” is not an e-mail address."),
        (8, "2 columns; expected 3"),
    ]:
        assert f"Line {line}: {reason}" in response.text
    assert reloaded(by_id).owner_email == "ann@example.com"
    assert (reloaded(by_name).owner_name, reloaded(by_name).owner_email) == (
        "Ben",
        "ben@example.com",
    )
    assert not unchanged.audit_entries.exists()
    assert by_id.audit_entries.get().detail == "Owner: Ann Lee <ann@example.com>. (from a CSV)"


def test_a_file_that_is_not_utf8_text_is_refused_with_a_message(signed_in):
    response = upload(signed_in, b"\xff\xfe\x00b\x00a\x00d")
    assert response.status_code == 400
    assert "The file is not UTF-8 text" in response.text


def test_an_address_that_cannot_be_encoded_for_sending_is_refused(signed_in, make_instance):
    instance = make_instance("Finance Dropbox")
    url = reverse("campaigns:owner", args=[instance.uuid])
    response = signed_in.post(url, {"owner_email": "bob@" + "ä" * 60 + ".com"}, follow=True)
    assert "is not an e-mail address" in response.text
    assert reloaded(instance).owner_email == ""


def test_a_file_csv_cannot_read_is_refused_with_a_message(signed_in):
    response = upload(signed_in, 'x,"' + "a" * 140_000 + "\n")
    assert response.status_code == 400
    assert "The file is not a CSV this page can read" in response.text
