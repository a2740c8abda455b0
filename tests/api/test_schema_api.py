"""The API's description: /api/v1/openapi.json is a valid OpenAPI 3 document listing every
operation (with the bearer scheme), and /api/v1/docs is its page. Neither needs a token."""

from __future__ import annotations

from schemathesis.specs.openapi.definitions import OPENAPI_30_VALIDATOR, OPENAPI_31_VALIDATOR

from tests.api.conftest import live, ok

OPERATIONS = {
    "/api/v1/instances": {"get"},
    "/api/v1/instances/{uuid}": {"get", "patch", "delete"},
    "/api/v1/instances/{uuid}/events": {"get"},
    "/api/v1/instances/{uuid}/events-enabled": {"put"},
    "/api/v1/instances/{uuid}/disable": {"post"},
    "/api/v1/instances/{uuid}/enable": {"post"},
    "/api/v1/instances/{uuid}/sync": {"post"},
    "/api/v1/consent-links": {"post"},
    "/api/v1/consent-links/{link_id}": {"get", "delete"},
    "/api/v1/jobs": {"post"},
    "/api/v1/jobs/{job_id}": {"get"},
    "/api/v1/jobs/{job_id}/cancel": {"post"},
    "/api/v1/destinations": {"get", "post"},
    "/api/v1/destinations/{destination_id}": {"get", "patch", "delete"},
    "/api/v1/destinations/{destination_id}/secret": {"get"},
    "/api/v1/destinations/{destination_id}/pause": {"post"},
    "/api/v1/destinations/{destination_id}/resume": {"post"},
    "/api/v1/destinations/{destination_id}/replay": {"post"},
    "/api/v1/instances/{uuid}/events/{event_id}/resend": {"post"},
}


@live
def test_the_schema_is_valid_openapi_3_listing_every_operation(api):
    schema = ok(api(None).get("/openapi.json"))

    version = schema["openapi"]
    assert version.startswith("3.")
    validator = OPENAPI_31_VALIDATOR if version.startswith("3.1") else OPENAPI_30_VALIDATOR
    errors = [str(e) for e in validator.iter_errors(schema)]
    assert errors == []
    assert {path: set(ops) for path, ops in schema["paths"].items()} == OPERATIONS
    assert schema["components"]["securitySchemes"] == {
        "TokenAuth": {"type": "http", "scheme": "bearer"}
    }
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation["security"] == [{"TokenAuth": []}], (method, path)
            # Every refusal is described as the JSON answer it is.
            for status in ("400", "401", "403", "404", "429"):
                content = operation["responses"][status]["content"]["application/json"]
                assert content["schema"] == {"$ref": "#/components/schemas/Problem"}
    # 502 (Cloud Elements failing) where an operation calls it.
    calling = {
        (method, path)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if "502" in operation["responses"]
    }
    assert calling == {
        ("patch", "/api/v1/instances/{uuid}"),
        ("delete", "/api/v1/instances/{uuid}"),
        ("put", "/api/v1/instances/{uuid}/events-enabled"),
        ("post", "/api/v1/instances/{uuid}/disable"),
        ("post", "/api/v1/instances/{uuid}/enable"),
        ("post", "/api/v1/instances/{uuid}/sync"),
    }


@live
def test_the_documentation_page(api, sandbox_site):
    response = api(None).get("/docs")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "/api/v1/openapi.json" in response.text
