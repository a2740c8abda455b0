"""Admin review: columns, filters, search, masked secrets and a constant number of queries."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from instances.models import ElementInstance

CHANGELIST = reverse("admin:instances_elementinstance_changelist")


def change_url(instance: ElementInstance) -> str:
    return reverse("admin:instances_elementinstance_change", args=[instance.pk])


def add_rows(make_instance, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        instance = make_instance(f"Instance {n}", tags=[f"team-{n}", "shared"], created_by=None)
        instance.webhook.enabled = n % 2 == 0
        instance.webhook.save()


def test_the_changelist_runs_a_constant_number_of_queries(client, operator, make_instance):
    client.force_login(operator)
    add_rows(make_instance, 3)
    with CaptureQueriesContext(connection) as few:
        assert client.get(CHANGELIST).status_code == 200
    add_rows(make_instance, 30, start=3)
    with CaptureQueriesContext(connection) as many:
        response = client.get(CHANGELIST)
    assert response.status_code == 200
    assert "Instance 32" in response.text
    assert len(many) == len(few)


class ResultTable(HTMLParser):
    """The admin's `#result_list` table: its column headers and, per row, each field's text.

    Only this table counts: the same values also appear in the filter sidebar and the header.
    """

    def __init__(self) -> None:
        super().__init__()
        self.headers: list[str] = []
        self.rows: list[dict[str, str]] = []
        self._depth = 0  # table nesting while inside #result_list
        self._cell: str | None = None
        self._in_header = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = dict(attrs)
        if tag == "table" and (self._depth or attributes.get("id") == "result_list"):
            self._depth += 1
        if not self._depth:
            return
        classes = (attributes.get("class") or "").split()
        if tag == "thead":
            self._in_header = True
        elif tag == "tr" and not self._in_header:
            self.rows.append({})
        elif tag == "th" and self._in_header:
            self.headers.append("")
        elif tag in ("td", "th"):
            fields = [c.removeprefix("field-") for c in classes if c.startswith("field-")]
            self._cell = fields[0] if fields else None
            if self._cell:
                self.rows[-1][self._cell] = ""
        elif tag == "img" and self._cell:
            self.rows[-1][self._cell] += attributes.get("alt") or ""

    def handle_endtag(self, tag: str) -> None:
        if not self._depth:
            return
        if tag == "table":
            self._depth -= 1
        elif tag == "thead":
            self._in_header = False
        elif tag in ("td", "th"):
            self._cell = None

    def handle_data(self, data: str) -> None:
        if not self._depth:
            return
        if self._in_header and self.headers:
            self.headers[-1] = (self.headers[-1] + " " + data.strip()).strip()
        elif self._cell:
            self.rows[-1][self._cell] = " ".join((self.rows[-1][self._cell] + " " + data).split())


def result_table(html: str) -> ResultTable:
    table = ResultTable()
    table.feed(html)
    return table


def test_the_changelist_shows_the_review_columns(client, operator, make_instance):
    instance = make_instance(
        "Finance",
        tags=["finance", "eu"],
        remote_id=58992,
        status=ElementInstance.Status.ACTIVE,
        created_by=operator,
    )
    instance.webhook.enabled = True
    instance.webhook.save()
    client.force_login(operator)
    html = client.get(CHANGELIST).text

    table = result_table(html)
    assert table.headers == [
        "",
        "Name",
        "Element",
        "Status",
        "Events",
        "Tags",
        "Cloud Elements id",
        "Origin",
        "Owner's e-mail address",
        "Created by",
        "Created at",
    ]
    [row] = table.rows
    created_at = row.pop("created_at")
    assert row == {
        "name": "Finance",
        "element_key": "dropbox",
        "status_badge": "Active",
        "events_enabled": "True",
        "tag_list": "eu finance",
        "remote_id": "58992",
        "origin": "Created here",
        "owner_email": "-",
        "created_by": "alice",
    }
    assert str(instance.created_at.year) in created_at
    assert instance.oauth_api_secret not in html


@pytest.mark.parametrize(
    "query, expected",
    [
        ("q=Finance", "Finance"),
        ("q=58992", "Finance"),
        ("q=payroll", "Finance"),
        ("status__exact=active", "Finance"),
        ("webhook__enabled__exact=1", "Finance"),
    ],
)
def test_filters_and_search_find_the_instance(client, operator, make_instance, query, expected):
    instance = make_instance(
        "Finance", tags=["payroll"], remote_id=58992, status=ElementInstance.Status.ACTIVE
    )
    instance.webhook.enabled = True
    instance.webhook.save()
    make_instance("Other", status=ElementInstance.Status.DRAFT)
    client.force_login(operator)
    response = client.get(f"{CHANGELIST}?{query}")
    assert response.status_code == 200
    assert expected in response.text
    assert ">Other<" not in response.text


def test_a_text_search_does_not_break_on_the_numeric_id(client, operator, make_instance):
    make_instance("Finance", remote_id=1)
    client.force_login(operator)
    assert client.get(f"{CHANGELIST}?q=not-a-number").status_code == 200


def test_secrets_are_never_rendered_in_full(client, operator, make_instance):
    instance = make_instance(
        oauth_api_secret="app-secret-very-long-4567", remote_token="token-abcdefghijkl-9876"
    )
    instance.webhook.signature_key = "signing-key-long-enough-1234"
    instance.webhook.save()
    client.force_login(operator)
    html = client.get(change_url(instance)).text
    assert "app-secret-very-long" not in html and "4567" in html
    assert "token-abcdefghijkl" not in html and "9876" in html
    assert "signing-key-long-enough" not in html and "1234" in html
    assert "gAAAAA" not in html


def test_an_active_instance_is_read_only_in_the_admin(client, operator, make_instance):
    instance = make_instance("Live", status=ElementInstance.Status.ACTIVE, remote_id=7)
    client.force_login(operator)
    html = client.get(change_url(instance)).text
    assert 'name="name"' not in html
    assert 'name="new_oauth_api_secret"' not in html


def test_a_view_only_user_can_review_but_not_change(client, viewer, make_instance):
    instance = make_instance("Finance")
    client.force_login(viewer)
    assert client.get(CHANGELIST).status_code == 200
    response = client.post(change_url(instance), form_data(instance, name="Hijacked"))
    assert response.status_code == 403
    assert ElementInstance.objects.get(pk=instance.pk).name == "Finance"


def test_a_non_staff_user_is_sent_to_the_login_page(client, outsider):
    client.force_login(outsider)
    response = client.get(CHANGELIST)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def form_data(instance: ElementInstance, **overrides) -> dict:
    data = {
        "name": instance.name,
        "element_key": instance.element_key,
        "authentication_type": instance.authentication_type,
        "oauth_api_key": instance.oauth_api_key,
        "oauth_callback_url": instance.oauth_callback_url,
        "new_oauth_api_secret": "",
        "webhook-TOTAL_FORMS": "1",
        "webhook-INITIAL_FORMS": "1",
        "webhook-MIN_NUM_FORMS": "0",
        "webhook-MAX_NUM_FORMS": "1",
        "webhook-0-id": str(instance.webhook.pk),
        "webhook-0-instance": str(instance.pk),
        "audit_entries-TOTAL_FORMS": "0",
        "audit_entries-INITIAL_FORMS": "0",
        "audit_entries-MIN_NUM_FORMS": "0",
        "audit_entries-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return data


def test_the_change_form_shows_the_stored_callback_url(client, operator, make_instance):
    instance = make_instance(
        oauth_callback_url="https://dash.example.com/instances/oauth/callback/"
    )
    client.force_login(operator)
    html = client.get(change_url(instance)).text
    assert "https://dash.example.com/instances/oauth/callback/" in html


# --- The change page is for review: no Save, and a POST saves nothing -------------------------

SAVE_BUTTONS = ('name="_save"', 'name="_continue"', 'name="_addanother"')


@pytest.mark.parametrize("status", list(ElementInstance.Status))
def test_the_change_page_has_no_save_button(client, operator, make_instance, status):
    instance = make_instance("Live", status=status, remote_id=7)
    client.force_login(operator)
    response = client.get(change_url(instance))
    assert response.status_code == 200
    for button in SAVE_BUTTONS:
        assert button not in response.text
    assert '<input type="text"' not in response.text  # nothing to type into
    assert "Review element instance" in response.text


def test_a_post_to_the_change_page_changes_nothing_and_claims_no_success(
    client, operator, make_instance
):
    instance = make_instance("Live", status=ElementInstance.Status.ACTIVE, remote_id=7)
    client.force_login(operator)
    response = client.post(change_url(instance), form_data(instance, name="Hijacked"), follow=True)
    assert response.status_code == 200
    assert "changed successfully" not in response.text
    assert "Nothing is changed on this page" in response.text
    assert ElementInstance.objects.get(pk=instance.pk).name == "Live"
    assert not LogEntry.objects.exists()


@pytest.mark.parametrize(
    ("status", "has_edit"),
    [("draft", True), ("failed", True), ("active", True), ("deleted", False)],
)
def test_the_change_page_links_to_the_dashboard(client, operator, make_instance, status, has_edit):
    instance = make_instance("Live", status=status)
    client.force_login(operator)
    html = client.get(change_url(instance)).text
    assert f'href="{instance.get_absolute_url()}"' in html
    edit = reverse("instances:edit", args=[instance.uuid])
    assert (f'href="{edit}"' in html) is has_edit


@pytest.mark.parametrize(
    "model, deletable",
    [("instances.auditentry", True), ("events.eventnotification", False), ("jobs.job", False)],
)
def test_records_cannot_be_added_or_edited_in_the_admin(rf, operator, model, deletable):
    from django.apps import apps
    from django.contrib import admin as django_admin

    model_admin = django_admin.site._registry[apps.get_model(model)]
    request = rf.get("/admin/")
    request.user = operator  # a superuser: only the admin class can say no

    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert model_admin.has_delete_permission(request) is deletable
