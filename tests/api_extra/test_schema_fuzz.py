"""Property-based run of the whole API from its own schema: schemathesis reads the live server's
/api/v1/openapi.json, generates requests for every operation (schema-valid and invalid ones),
sends them with a read+write token of the operator to the live server, whose sandbox stands
in for Cloud Elements, and checks every answer: never a 5xx, always JSON (never the site's
HTML), and as the schema documents (status codes, bodies, content types, Allow headers).

Generated path parameters are often the ids of what exists (instances, drafts, a consent link,
a job), so the operations reach past their 404.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

import pytest
import requests
import schemathesis
from django.core.cache import cache
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from instances.api import tokens
from instances.events.models import EventNotification
from instances.models import ElementInstance
from tests.sandbox_helpers import make_active

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES = 25


@pytest.fixture(autouse=True)
def _schemathesis_reads_nodeid(request):
    """schemathesis 4.32 (`pytest/lazy.py`) reads and writes `Function._nodeid`, which pytest
    9.2 no longer has (it keeps the id in `_id`): without this the lazily loaded schema fails
    with AttributeError before any request is sent. The attribute only renames the report."""
    request.node._nodeid = request.node.nodeid


@pytest.fixture
def api_secret(operator) -> str:
    made = tokens.make(
        user=operator, name="schemathesis", scopes=["read", "write"], expires_at=None
    )
    return made.secret


@dataclass
class Run:
    answers: Counter = field(default_factory=Counter)  # (method, path template, status)
    failed: int = 0  # requests whose answer failed a check


@pytest.fixture
def run() -> Run:
    return Run()


@pytest.fixture
def api_schema(sandbox_site, settings, api_secret, make_instance, run):
    settings.API_RATE_LIMIT_PER_MINUTE = 1_000_000
    cache.clear()  # the live server runs in this process: its rate counters are this cache's
    url = sandbox_site.url
    bearer = {"Authorization": f"Bearer {api_secret}"}
    draft = make_instance("Fuzz Draft", tags=["fuzz"], owner_name="Bob", owner_email="b@x.example")
    make_instance("Fuzz Second Draft")
    active = make_active(make_instance, url, "Fuzz Active", events=True, tags=["fuzz"])
    other = make_active(make_instance, url, "Fuzz Other Active")
    for n in range(3):
        EventNotification.objects.create(
            instance=active,
            dedup_key=f"event:fuzz-{n}",
            signature=EventNotification.Signature.VERIFIED,
            event_type="CREATED",
            object_type="file",
            object_id=f"/fuzz/{n}.txt",
            events=[{"eventType": "CREATED", "objectType": "file", "objectId": f"/fuzz/{n}.txt"}],
            body="{}",
        )
    link = requests.post(
        f"{url}/api/v1/consent-links",
        json={"instance": str(draft.uuid)},
        headers=bearer,
        timeout=10,
    )
    assert link.status_code == 201, link.text
    job = requests.post(
        f"{url}/api/v1/jobs",
        json={"kind": "sync", "instances": [str(other.uuid)]},
        headers=bearer,
        timeout=10,
    )
    assert job.status_code == 201, job.text
    destination = requests.post(
        f"{url}/api/v1/destinations",
        json={"name": "Fuzz app", "url": "https://app.example.invalid/hooks"},
        headers=bearer,
        timeout=10,
    )
    assert destination.status_code == 201, destination.text

    # The token as the schema's security scheme (TokenAuth): schemathesis sends it, and knows
    # when it leaves it out on purpose (its negative and authentication checks).
    config = schemathesis.Config.from_dict(
        {"auth": {"openapi": {"TokenAuth": {"bearer": api_secret}}}}
    )
    schema = schemathesis.openapi.from_url(
        f"{url}/api/v1/openapi.json", config=config, headers=bearer, timeout=10
    )
    known = {
        "uuid": [str(i.uuid) for i in (draft, active, other)],
        "link_id": [link.json()["id"]],
        "job_id": [job.json()["id"]],
        "destination_id": [destination.json()["id"]],
        "event_id": list(active.events.values_list("pk", flat=True)),
    }

    @schema.hook
    def flatmap_path_parameters(context, path_parameters):
        """A path parameter of its documented type: the id of something that exists, or as
        generated. One of another type (a negative case) stays as generated."""
        if not path_parameters:
            return st.just(path_parameters)
        return st.fixed_dictionaries(
            {
                name: st.one_of(st.sampled_from(known[name]), st.just(value))
                if name in known and type(value) is type(known[name][0])
                else st.just(value)
                for name, value in path_parameters.items()
            }
        )

    yield schema

    if run.failed:
        return  # the test reports why
    # Not a vacuous run: the generated requests reached the instances, links and jobs.
    reached = {(method, path) for (method, path, status) in run.answers if 200 <= status < 300}
    for operation in (
        ("GET", "/api/v1/instances"),
        ("GET", "/api/v1/instances/{uuid}"),
        ("GET", "/api/v1/consent-links/{link_id}"),
        ("GET", "/api/v1/jobs/{job_id}"),
        ("GET", "/api/v1/destinations/{destination_id}"),
    ):
        assert operation in reached, (operation, sorted(run.answers))


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_generated_request_gets_a_server_error_or_html(case, sandbox_site, run):
    response = case.call(base_url=sandbox_site.url, timeout=30)
    run.answers[(case.method.upper(), case.path, response.status_code)] += 1
    run.failed += 1  # until its checks pass
    request = case.as_curl_command(base_url=sandbox_site.url)
    assert response.status_code < 500, f"{response.status_code} for: {request}\n{response.text}"
    kind = response.headers.get("content-type", [""])[0]  # lowercase names, lists of values
    assert kind.startswith("application/json"), f"{kind!r} for: {request}\n{response.text[:300]}"
    assert isinstance(json.loads(response.content), dict), request
    # What the schema documents. The schema cannot say that `limit` runs from 1 to 200, that a
    # consent link needs exactly one of `instance` and `new_instance`, or that a job needs at
    # least one instance: such schema-valid requests rightly get a 400, so the check that every
    # schema-valid request is accepted is left out.
    case.validate_response(
        response,
        excluded_checks=[schemathesis.checks.positive_data_acceptance],
    )
    run.failed -= 1


def test_an_undocumented_method_answers_json_405_with_allow(sandbox_site, api_secret):
    """A method an address does not have: 405, JSON as every other refusal, Allow listing the
    methods the schema documents for it."""
    bearer = {"Authorization": f"Bearer {api_secret}"}
    paths = requests.get(f"{sandbox_site.url}/api/v1/openapi.json", timeout=10).json()["paths"]
    assert len(paths) >= 11  # every address of the API, as of its first version
    problems = []
    for template, operations in paths.items():
        path = (
            template.replace("{uuid}", "00000000-0000-0000-0000-000000000000")
            .replace("{link_id}", "1")
            .replace("{job_id}", "1")
            .replace("{destination_id}", "1")
            .replace("{event_id}", "1")
        )
        documented = {m.upper() for m in operations}
        for method in {"GET", "POST", "PUT", "PATCH", "DELETE"} - documented:
            response = requests.request(
                method, f"{sandbox_site.url}{path}", headers=bearer, json={}, timeout=10
            )
            allow = set(response.headers.get("Allow", "").replace(" ", "").split(","))
            kind = response.headers.get("Content-Type", "")
            if (
                response.status_code != 405
                or allow != documented
                or not kind.startswith("application/json")
                or not response.json().get("detail")
            ):
                problems.append(
                    f"{method} {path}: {response.status_code}, Allow {sorted(allow)} "
                    f"(documented {sorted(documented)}), {kind}: {response.text[:60]!r}"
                )
    assert not problems, "\n".join(problems)


def test_a_body_that_is_not_a_json_object_is_refused(sandbox_site, api_secret, make_instance):
    """Every body of the API is an object: anything else is a 400, not an empty change."""
    instance = make_instance("Not An Object")
    instance.webhook.callback_url = f"{sandbox_site.url}/webhooks/{instance.uuid}/"
    instance.webhook.save()
    bearer = {"Authorization": f"Bearer {api_secret}", "Content-Type": "application/json"}
    problems = []
    for method, path in (
        ("PATCH", f"/api/v1/instances/{instance.uuid}"),
        ("PUT", f"/api/v1/instances/{instance.uuid}/events-enabled"),
        ("POST", "/api/v1/consent-links"),
        ("POST", "/api/v1/jobs"),
    ):
        for body in ("[]", '[{"name": "x"}]', "0", "null", '"text"', "true"):
            response = requests.request(
                method, f"{sandbox_site.url}{path}", data=body, headers=bearer, timeout=10
            )
            if response.status_code != 400 or "errors" not in response.json():
                problems.append(f"{method} {path} {body}: {response.status_code}")
    assert not problems, "\n".join(problems)
    assert ElementInstance.objects.get(pk=instance.pk).name == "Not An Object"


def test_a_change_with_null_fields_is_not_a_server_error(sandbox_site, api_secret, make_instance):
    """`null` for a field of PATCH /instances/{uuid} (the schema allows it for each): kept or
    refused, never a 500."""
    instance = make_instance("Null Fields")
    instance.webhook.callback_url = f"{sandbox_site.url}/webhooks/{instance.uuid}/"
    instance.webhook.save()
    bearer = {"Authorization": f"Bearer {api_secret}"}
    problems = []
    for name in (
        "name",
        "tags",
        "event_callback_url",
        "signature_key",
        "owner_name",
        "owner_email",
    ):
        response = requests.patch(
            f"{sandbox_site.url}/api/v1/instances/{instance.uuid}",
            json={name: None},
            headers=bearer,
            timeout=10,
        )
        if response.status_code not in (200, 400, 409):
            problems.append(f"PATCH {{{name!r}: null}}: {response.status_code} {response.text}")
    assert not problems, "\n".join(problems)


def test_unknown_api_addresses_answer_json_404(sandbox_site, api_secret):
    bearer = {"Authorization": f"Bearer {api_secret}"}
    for path in ("/api/v1/nothing-here", "/api/v2/instances", "/api/v1/instances/", "/api/"):
        response = requests.get(f"{sandbox_site.url}{path}", headers=bearer, timeout=10)
        assert response.status_code == 404, path
        assert response.headers["Content-Type"].startswith("application/json"), path
        assert response.json()["detail"] == "No such API address; see /api/v1/docs.", path
