"""The API's address book: `/api/v1/`, its operations, its schema and documentation, and how
every refusal is answered (JSON with `detail`, and `errors` per field for a 400; never HTML)."""

from __future__ import annotations

import logging

from django.http import HttpRequest, JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser

from instances.api import destination_views, event_views, instance_views, job_views, link_views
from instances.api.auth import ApiError, RateLimited, TokenAuth

logger = logging.getLogger(__name__)


class ObjectParser(Parser):
    """Every body this API reads is a JSON object: anything else is refused (400)."""

    def parse_body(self, request: HttpRequest) -> dict:
        data = super().parse_body(request)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return data


api = NinjaAPI(
    parser=ObjectParser(),
    title="Cloud Elements instances dashboard API",
    version="1",
    description=(
        "Everything the dashboard does, for the team's own software. Authenticate with "
        "`Authorization: Bearer <token>` (a token made on the dashboard's **API tokens** page; "
        "scopes `read` and `write`, acting with its user's permissions)."
    ),
    auth=TokenAuth(),
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)
for module in (instance_views, event_views, link_views, job_views, destination_views):
    api.add_router("", module.router)


def problem(status: int, detail: str, errors: dict | None = None) -> JsonResponse:
    return JsonResponse({"detail": detail, "errors": errors or {}}, status=status)


@api.exception_handler(ApiError)
def refused(request: HttpRequest, error: ApiError):
    response = problem(error.status, error.message, error.fields)
    if isinstance(error, RateLimited):
        response["Retry-After"] = str(error.retry_after)
    return response


@api.exception_handler(ValidationError)
def invalid(request: HttpRequest, error: ValidationError):
    fields: dict[str, list[str]] = {}
    for item in error.errors:
        where, *location = [str(part) for part in item.get("loc", ())] or ["body"]
        if where == "body":
            location = location[1:]  # the operation's parameter name, not the client's
        fields.setdefault(".".join(location) or where, []).append(item.get("msg", "Invalid."))
    return problem(400, "Some fields are not valid.", fields)


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, error: AuthenticationError):
    response = problem(
        401,
        "A valid API token is needed: Authorization: Bearer <token> (unknown, revoked or "
        "expired tokens are refused).",
    )
    response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, error: HttpError):
    detail = str(error)
    if detail.startswith("Cannot parse request body"):
        detail = "The body must be a JSON object (Content-Type: application/json)."
    return problem(error.status_code, detail)


@api.exception_handler(Exception)
def unexpected(request: HttpRequest, error: Exception):
    logger.exception("API: unexpected error on %s %s", request.method, request.path)
    return problem(500, "Unexpected error; see the server log.")


def not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    """Any other address under /api/: JSON, not the site's HTML page."""
    return problem(404, "No such API address; see /api/v1/docs.")
