"""What the API reads and answers (pydantic, through Django Ninja): the OpenAPI schema is made
from these and from the operations' signatures."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from ninja import Field, Schema
from pydantic import ConfigDict, StrictBool, StrictInt


class Request(Schema):
    """A request body: a JSON object whose every field is known (a misspelt one is refused).
    Its booleans and numbers are strict: JSON 0 is not false, nor "3" a number."""

    model_config = ConfigDict(extra="forbid")


class Problem(Schema):
    detail: str = Field(description="What went wrong, in a sentence.")
    errors: dict[str, list[str]] = Field(
        default_factory=dict, description="Per field: what is wrong with it (400 only)."
    )


class Owner(Schema):
    name: str
    email: str


class EventSettings(Schema):
    enabled: bool
    callback_url: str
    signature_key: str = Field(description="Masked: the last four characters at most.")


class Instance(Schema):
    uuid: UUID
    name: str
    element_key: str
    status: str
    origin: str
    authentication_type: str
    cloud_elements_id: int | None
    valid_at_cloud_elements: bool
    disabled_at_cloud_elements: bool
    deleted_at_cloud_elements: bool
    changed_at_cloud_elements: bool
    tags: list[str]
    owner: Owner | None
    events: EventSettings
    problems: list[str] = Field(description="Open health problems (kinds), newest first.")
    last_error: str
    created_at: datetime
    updated_at: datetime
    url: str = Field(description="The instance's page on the dashboard.")


class InstancePage(Schema):
    items: list[Instance]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page.")
    matching: int = Field(description="How many instances match (exact up to 1,000).")
    matching_exact: bool


class InstanceChanges(Request):
    """Only the fields given change. Name, tags and event settings are sent to Cloud Elements;
    the owner is kept here."""

    name: str | None = None
    tags: list[str] | None = None
    event_callback_url: str | None = None
    signature_key: str | None = Field(None, description="A new key; the old one stays accepted.")
    owner_name: str | None = None
    owner_email: str | None = None


class EventsSwitch(Request):
    enabled: StrictBool


class NewInstance(Request):
    """The documented parameters of a new oauth2 instance (the parameter table)."""

    name: str
    element_key: str = "dropbox"
    oauth_api_key: str
    oauth_api_secret: str
    oauth_callback_url: str | None = Field(None, description="Default: this dashboard's.")
    events_enabled: StrictBool = False
    event_callback_url: str | None = Field(None, description="Default: this dashboard's.")
    signature_key: str | None = Field(None, description="Default: a generated one.")
    tags: list[str] = []
    owner_name: str = ""
    owner_email: str = ""
    configuration: dict[str, StrictBool | str] = Field(
        {},
        description="The element's other parameters by key, as its metadata lists them "
        "(GET /elements/{key}); a parameter left out takes the element's default. Dropbox has "
        "none.",
    )


class ConsentLinkRequest(Request):
    """Either `instance` (a draft, or an active instance to re-authorize) or `new_instance`."""

    instance: UUID | None = None
    new_instance: NewInstance | None = None
    note: str = ""
    success_url: str = ""
    error_url: str = ""


class LinkInstance(Schema):
    uuid: UUID
    name: str
    status: str
    cloud_elements_id: int | None


class ConsentLink(Schema):
    id: int
    purpose: str
    state: Literal["waiting", "opened", "completed", "expired", "revoked"]
    url: str | None = Field(
        description="The link to send: while it can be used, to a token that may make links."
    )
    expires_at: datetime
    opened_at: datetime | None
    used_at: datetime | None
    revoked_at: datetime | None
    instance: LinkInstance


JobKind = Literal["events_on", "events_off", "sync", "disable", "enable"]


class JobRequest(Request):
    """Either `instances` (their uuids) or `filter` (the list's filters, as in GET /instances)."""

    kind: JobKind
    instances: list[UUID] | None = Field(None, max_length=10_000)
    filter: dict[str, str] | None = None


class Job(Schema):
    id: int
    kind: str
    status: str
    total: int
    done: int
    failed: int
    skipped: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    url: str


class Event(Schema):
    id: int
    received_at: datetime
    event_type: str
    object_type: str
    object_id: str
    signature: str = Field(description="The verification outcome.")
    events: list[dict] = Field(
        description="The events it carried, as Cloud Elements normalises them: eventType, "
        "objectType, objectId."
    )
    forwarding: dict[str, int] = Field(
        description="Its deliveries to destinations, counted by state (pending, sending, "
        "delivered, refused, failed)."
    )


class EventPage(Schema):
    items: list[Event]
    next_cursor: str | None


class DestinationRequest(Request):
    """A destination's settings. On PATCH only the fields given change."""

    name: str | None = None
    url: str | None = Field(None, description="https://, or http:// on this machine.")
    element_keys: list[str] | None = Field(None, description="Empty: every element.")
    tags: list[str] | None = Field(None, description="Any of these tags. Empty: every tag.")
    event_types: list[str] | None = Field(
        None, description="Cloud Elements eventType values. Empty: every type."
    )
    instances: list[str] | None = Field(
        None,
        description="Only these instances: uuids, Cloud Elements ids or exact names. "
        "Empty: every instance.",
    )
    max_in_flight: StrictInt | None = Field(
        None, description="Deliveries in flight at most (1–100)."
    )


class Destination(Schema):
    id: int
    name: str
    url: str
    element_keys: list[str]
    tags: list[str]
    event_types: list[str]
    instances: list[UUID]
    max_in_flight: int
    state: Literal["active", "failing", "paused"]
    paused_reason: str
    failing_since: datetime | None
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_failure: str
    queued: int = Field(description="Deliveries waiting (counted up to 10,001).")
    created_at: datetime
    deleted_at: datetime | None


class DestinationList(Schema):
    items: list[Destination]


class DestinationSecret(Schema):
    signing_secret: str = Field(description="Verify deliveries with a Standard Webhooks library.")
    previous_signing_secret: str | None = Field(
        description="After a rotation, the previous secret still signs until `previous_expires_at`."
    )
    previous_expires_at: datetime | None


class ReplayRequest(Request):
    since: datetime
    until: datetime
    which: Literal["failed", "all"] = Field(
        "failed",
        description="`failed`: events not delivered to it (failed, refused, never sent); "
        "`all`: every event of the window.",
    )


class ResendRequest(Request):
    destination: StrictInt


class Delivery(Schema):
    id: int
    event: int
    destination: int
    state: str
    attempts: int
    next_attempt_at: datetime | None
    last_status: int | None
    last_error: str
