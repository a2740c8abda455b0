"""One consent link completed from two browsers at the same moment creates one instance.

Each thread is an owner's browser with its own session and database connection; both reach the
callback with a valid code at once. The link is spent by one conditional UPDATE before anything
is sent, and `_create_remote` claims the instance as a second guard. Runs on SQLite and
PostgreSQL alike (DATABASE_URL).
"""

from __future__ import annotations

import threading
import time

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client

from instances.cloud_elements import client as cloud_elements
from instances.links import services as links
from instances.links.models import ConsentLink
from instances.models import ElementInstance
from tests.instances.consent_helpers import FakeCloudElements

pytestmark = pytest.mark.django_db(transaction=True)
CALLBACK = "/instances/oauth/callback/"


@pytest.fixture(autouse=True)
def setup(settings):
    settings.CLOUD_ELEMENTS_BASE_URL = "http://127.0.0.1:9/elements/api-v2"
    cache.clear()


def test_two_owners_completing_one_link_at_once_create_one_instance(make_instance, monkeypatch):
    remote = FakeCloudElements()
    slow_create = remote.create_instance

    def create_instance(payload):
        time.sleep(0.3)  # a slow Cloud Elements widens the window for a second create
        return slow_create(payload)

    monkeypatch.setattr(cloud_elements, "get_oauth_url", remote.get_oauth_url)
    monkeypatch.setattr(cloud_elements, "create_instance", create_instance)
    link = links.make_link(instance=make_instance("Raced"), actor=None)
    owners = [Client(), Client()]
    for owner in owners:
        owner.get(f"/connect/{link.token}/")
        owner.post(f"/connect/{link.token}/")
    states = remote.states[-2:]

    barrier = threading.Barrier(2, timeout=30)
    results: list = [None, None]

    def complete(position: int) -> None:
        try:
            barrier.wait()
            response = owners[position].get(
                CALLBACK, {"state": states[position], "code": f"code-{position}"}
            )
            results[position] = response.status_code
        except BaseException as error:  # reported by the assertions, not lost in the thread
            results[position] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=complete, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(results) == [302, 410], results
    assert len(remote.payloads) == 1
    instance = ElementInstance.objects.get(name="Raced")
    assert instance.status == ElementInstance.Status.ACTIVE
    assert ConsentLink.objects.get(pk=link.pk).used_at is not None
