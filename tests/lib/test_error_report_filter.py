"""An error report (DEBUG's technical 500 page, the e-mail to ADMINS) never shows a secret typed
into a form, even when the error happens before the view marked its parameters sensitive, such
as in a middleware during `POST /instances/new/`. Issue 26, item 6."""

from __future__ import annotations

import sys

import pytest
from django.views.debug import ExceptionReporter, technical_500_response

TYPED = {
    "name": "Marketing Dropbox",
    "oauth_api_key": "app-key-visible-123",
    "oauth_api_secret": "typed-oauth-secret-0001",
    "api_key": "typed-api-key-0002",
    "signature_key": "typed-signature-key-0003",
    "new_signature_key": "typed-new-signature-key-0004",
    "password": "typed-password-0005",
    "code": "123456",
}
SECRETS = [value for name, value in TYPED.items() if name not in ("name", "oauth_api_key")]


def _error_during(request):
    """The exception info of an error raised while `request` was handled (a database fault in
    a middleware, say), before any view ran."""
    try:
        raise RuntimeError("database unavailable in a middleware")
    except RuntimeError:
        return sys.exc_info()


@pytest.fixture
def request_with_secrets(rf, settings):
    settings.DEBUG = True
    return rf.post("/instances/new/", TYPED)


def test_the_debug_page_shows_no_typed_secret(request_with_secrets):
    response = technical_500_response(request_with_secrets, *_error_during(request_with_secrets))
    page = response.content.decode()

    assert response.status_code == 500
    assert "Marketing Dropbox" in page, "the page still shows what is not secret"
    for secret in SECRETS:
        assert secret not in page
    assert "oauth_api_secret" in page and "********************" in page


def test_the_error_mail_shows_no_typed_secret(request_with_secrets):
    text = ExceptionReporter(request_with_secrets, *_error_during(request_with_secrets))
    report = text.get_traceback_text()

    for secret in SECRETS:
        assert secret not in report
