"""`POST /api/v1/consent-links` with a `new_instance` of another element than Dropbox: its
other parameters by key (defaults for those left out), checked by the same form as the page."""

from __future__ import annotations

from instances import consent
from instances.models import ElementInstance
from tests.api.conftest import live, ok, refused

CRM = {
    "name": "Acme CRM",
    "element_key": "sandboxcrm",
    "oauth_api_key": "crm-client",
    "oauth_api_secret": "crm-client-secret-01",
}


@live
def test_a_crm_link_keeps_its_parameters_and_the_elements_defaults(alice):
    new = {**CRM, "configuration": {"crm.region": "eu", "crm.include.archived": True}}
    link = ok(alice.post("/consent-links", json={"new_instance": new}), 201)

    instance = ElementInstance.objects.get(uuid=link["instance"]["uuid"])
    assert instance.element_key == "sandboxcrm"
    assert instance.extras == [
        ("crm.region", "eu", False),
        ("crm.include.archived", True, False),
        ("crm.page.size", "100", False),  # left out: the element's default
    ]
    configuration = consent.build_instance_payload(instance, code="c")["configuration"]
    assert list(configuration)[3:6] == ["crm.region", "crm.include.archived", "crm.page.size"]


@live
def test_what_the_element_does_not_offer_is_refused_with_the_field(alice):
    cases = [
        ({**CRM, "configuration": {"crm.colour": "red"}}, 400, "new_instance.configuration"),
        (
            {**CRM, "configuration": {"crm.region": "mars"}},
            400,
            "new_instance.configuration.crm.region",
        ),
        ({**CRM, "element_key": "sandboxpay"}, 400, "new_instance.element_key"),
        ({**CRM, "element_key": "nosuchelement"}, 404, "new_instance.element_key"),
    ]
    for new, status, field in cases:
        body = refused(alice.post("/consent-links", json={"new_instance": new}), status)
        assert field in body["errors"], (new, body)
    assert not ElementInstance.objects.exists()
