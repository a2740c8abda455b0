"""Secrets kept out of log records and error reports."""

from __future__ import annotations

import logging
import re

from django.views.debug import SafeExceptionReporterFilter

_PATTERNS = [
    (re.compile(r"(apiSecret=)[^&\s'\"]+", re.IGNORECASE), r"\1[redacted]"),
    (re.compile(r"(User )[^,\s]+(, Organization )[^,\s'\"]+"), r"\1[redacted]\2[redacted]"),
    (re.compile(r"(Element )[A-Za-z0-9+/=]{12,}"), r"\1[redacted]"),
    (re.compile(r"(sha256=)[A-Za-z0-9+/=]+"), r"\1[redacted]"),
    (re.compile(r"([?&](?:code|state)=)[^&\s'\"]+"), r"\1[redacted]"),
    # Consent link tokens travel in the path (/connect/<token>/), e.g. in request lines.
    (re.compile(r"(/connect/)(?!done/)[^/\s?#'\"]+"), r"\1[redacted]"),
]
_formatter = logging.Formatter()


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecretsFilter(logging.Filter):
    """Redact apiSecret query values, Authorization secrets, signatures, OAuth codes and
    consent link tokens."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        # A traceback repeats exception messages (a URL with its query string, say): format it
        # here, redacted; the formatter then uses this text instead of formatting its own.
        if record.exc_info and not record.exc_text:
            record.exc_text = _formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class SecretsReporterFilter(SafeExceptionReporterFilter):
    """Hide secrets in error reports on every request, DEBUG's technical 500 page included.

    Django hides only what a view marked with `sensitive_post_parameters`, and nothing when
    DEBUG is on: an error raised before the view (a middleware's database fault during
    `POST /instances/new/`) showed the OAuth secret, API key or signature key the operator
    typed. Here the marks count with DEBUG on too, and every POST parameter whose name says it
    is secret is hidden wherever the error happened.
    """

    secret_names = re.compile(r"KEY|SECRET|PASS|TOKEN|SIGNATURE|CODE|AUTH", re.IGNORECASE)

    def is_active(self, request) -> bool:
        return True

    def get_post_parameters(self, request):
        parameters = super().get_post_parameters(request)
        if request is None:
            return parameters
        cleansed = parameters.copy()
        for name in parameters:
            if self.secret_names.search(name):
                cleansed[name] = self.cleansed_substitute
        return cleansed
