"""Pages with instance data are never stored by a browser or a proxy (issue 10, point 7)."""

from __future__ import annotations

import pytest
from django.http import HttpResponse
from django.urls import path, reverse

from instances.events.models import EventNotification
from instances.models import ElementInstance


def no_store(response) -> bool:
    directives = {d.strip() for d in response.get("Cache-Control", "").split(",")}
    return {"no-store", "private"} <= directives


@pytest.fixture
def instance(make_instance) -> ElementInstance:
    instance = make_instance("Finance", status=ElementInstance.Status.ACTIVE, remote_id=58992)
    EventNotification.objects.create(
        instance=instance, dedup_key="event:e1", signature="unsigned", body="{}"
    )
    return instance


def dashboard_pages(instance: ElementInstance) -> list[str]:
    delivery = instance.events.get()
    return [
        reverse("instances:index"),
        reverse("instances:index") + "?q=Finance&status=active",
        reverse("instances:new"),
        instance.get_absolute_url(),
        instance.get_absolute_url() + "?events_page=1",
        reverse("instances:edit", args=[instance.uuid]),
        reverse("instances:delete", args=[instance.uuid]),
        reverse("events:detail", args=[instance.uuid, delivery.pk]),
        reverse("accounts:two_factor"),
        reverse("admin:instances_elementinstance_changelist"),
        reverse("admin:events_eventnotification_changelist"),
        reverse("admin:events_eventnotification_change", args=[delivery.pk]),
    ]


def test_every_dashboard_page_says_no_store_and_private(client, operator, instance):
    client.force_login(operator)

    answers = {url: client.get(url) for url in dashboard_pages(instance)}

    assert {url: r.status_code for url, r in answers.items()} == dict.fromkeys(answers, 200)
    assert [url for url, r in answers.items() if not no_store(r)] == []


def test_a_view_only_users_pages_say_no_store_too(client, viewer, instance):
    client.force_login(viewer)

    for url in (reverse("instances:index"), instance.get_absolute_url()):
        response = client.get(url)
        assert response.status_code == 200
        assert no_store(response), url


def test_the_redirect_after_an_action_says_no_store(client, operator, make_instance):
    draft = make_instance("Draft")
    client.force_login(operator)

    response = client.post(reverse("instances:sync", args=[draft.uuid]))

    assert response.status_code == 302
    assert no_store(response)


# --- Pages added later are covered; a view's own choice is kept ----------------------------------


def added_later(request):
    return HttpResponse("<h1>instance data</h1>")


def cacheable(request):
    response = HttpResponse("public")
    response["Cache-Control"] = "public, max-age=60"
    return response


urlpatterns = [path("later/", added_later), path("cacheable/", cacheable)]


@pytest.mark.urls(__name__)
def test_a_page_added_later_is_covered_without_a_decorator(client, operator):
    client.force_login(operator)

    assert no_store(client.get("/later/"))


@pytest.mark.urls(__name__)
def test_a_view_that_sets_its_own_cache_control_keeps_it(client, operator):
    client.force_login(operator)

    assert client.get("/cacheable/")["Cache-Control"] == "public, max-age=60"


@pytest.mark.urls(__name__)
def test_an_anonymous_answer_is_left_alone(client, db):
    assert not client.get("/later/").has_header("Cache-Control")
