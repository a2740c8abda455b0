"""The documented Dropbox instance parameter table, in one place.

Labels, descriptions and defaults are the user's documentation (transcribed in tests/data, which
the tests compare with this table); forms, templates and the payload builder read them from here
so that the wording never drifts.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_ELEMENT_KEY = "dropbox"
OAUTH2 = "oauth2"
API_KEY = "apiKey"

# The documentation offers `apiKey` authentication for Dropbox but never names the configuration
# key that carries the key. This is our best reading; change it here only.
API_KEY_PARAMETER = "api.key"

# Configuration values that Cloud Elements masks in responses and that we encrypt at rest.
SECRET_PARAMETERS = frozenset(
    {"oauth.api.key", "oauth.api.secret", "event.notification.signature.key", API_KEY_PARAMETER}
)
MASKED = "********"


@dataclass(frozen=True)
class Parameter:
    name: str  # the API parameter, shown in code formatting
    label: str  # the documented label, or the parameter itself where the table gives none
    description: str
    data_type: str
    optional: bool = False
    default: object = None


PARAMETERS = {
    p.name: p
    for p in [
        Parameter("key", "key", "The element key.", "string", default=DEFAULT_ELEMENT_KEY),
        Parameter(
            "code",
            "code",
            "The authorization grant code returned from the API provider in an OAuth2 "
            "authentication workflow.",
            "string",
        ),
        Parameter(
            "name",
            "Name",
            "The name for the element instance created during authentication.",
            "string",
        ),
        Parameter(
            "authentication.type",
            "authentication.type",
            "Identifies how you are authenticating with Dropbox. Either oauth2 or apiKey.",
            "string",
            default=OAUTH2,
        ),
        Parameter(
            "oauth.callback.url",
            "oauth.callback.url",
            "OAuth 2.0 authentication only. The URL where you want to redirect users after they "
            "grant access. This is the Redirect URI that you noted in the API Provider Setup "
            "section.",
            "string",
        ),
        Parameter(
            "oauth.api.key",
            "oauth.api.key",
            "OAuth 2.0 authentication only. The Client ID from Dropbox. This is the App key that "
            "you noted in the API Provider Setup section.",
            "string",
        ),
        Parameter(
            "oauth.api.secret",
            "oauth.api.secret",
            "OAuth 2.0 authentication only. The Client Secret from Dropbox. This is the App "
            "secret that you noted in the API Provider Setup section.",
            "string",
        ),
        Parameter(
            "event.notification.enabled",
            "Events Enabled",
            "Identifies that events are enabled for the element instance. Default: false",
            "boolean",
            optional=True,
            default=False,
        ),
        Parameter(
            "event.notification.callback.url",
            "Event Notification Callback URL",
            "The URL where your app can receive events. This is the Webhook URI that you noted "
            "in the API Provider Setup section.",
            "string",
        ),
        Parameter(
            "event.notification.signature.key",
            "Callback Notification Signature Key",
            "A user-defined key for added security to show that events have not been tampered "
            "with. This can be any custom value that you want passed to the callback handler "
            "listening at the provided Event Notification Callback URL.",
            "string",
            optional=True,
        ),
        Parameter(
            "tags",
            "tags",
            "User-defined tags to further identify the instance.",
            "string",
            optional=True,
        ),
    ]
}


def mask(secret: str | None, visible: int = 4) -> str:
    """Show at most the last `visible` characters of a secret, and none of a short one."""
    if not secret:
        return ""
    if len(secret) < 12:
        return "••••"
    return "••••" + secret[-visible:]
