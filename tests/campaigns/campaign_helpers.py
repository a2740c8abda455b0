"""Building a fleet with owners, running a campaign's job here, reading what was e-mailed."""

from __future__ import annotations

import html
import re
from email.message import Message
from urllib.parse import parse_qsl, urljoin, urlsplit

import requests
from django.conf import settings
from django.test import Client

from instances.campaigns import services as campaigns
from instances.campaigns.models import Campaign
from instances.jobs import engine
from instances.links.models import ConsentLink
from instances.links.services import digest
from tests.cloud_elements.live_flow import FORM_ACTION, HIDDEN_INPUT

LINK = re.compile(r"https?://[^\s\"<>]+/connect/([A-Za-z0-9_-]{43})/")


def queue(instances, actor, **options) -> Campaign:
    """Start a campaign over these instances; its job is queued, not run."""
    arguments = {
        "name": "Dropbox app secret rotated",
        "purpose": Campaign.Purpose.REAUTHORIZE,
        "message": "We rotated our Dropbox app's secret.",
        "delivery": Campaign.Delivery.EMAIL,
        "expires_at": campaigns.default_expiry(),
        "reminder_days": [3, 6],
        "instance_ids": [i.pk for i in instances],
        "actor": actor,
    }
    return campaigns.start(**{**arguments, **options})


def start(instances, actor, **options) -> Campaign:
    """Start a campaign over these instances and run its job here, as a worker would."""
    campaign = queue(instances, actor, **options)
    assert engine.run_job(campaign.job_id) == "done"
    campaign.refresh_from_db()
    return campaign


def parts(mail: dict) -> tuple[str, str]:
    """The plain text and the HTML of a received e-mail."""
    message: Message = mail["message"]
    found = {}
    for part in message.walk():
        if part.get_content_type() in ("text/plain", "text/html"):
            found[part.get_content_type()] = part.get_payload(decode=True).decode()
    return found["text/plain"], found["text/html"]


def links_in(mail: dict) -> list[ConsentLink]:
    """The consent links a received e-mail carries (from its plain text), found by token."""
    text, _ = parts(mail)
    tokens = LINK.findall(text)
    found = {
        link.token_hash: link
        for link in ConsentLink.objects.filter(token_hash__in=[digest(t) for t in tokens])
    }
    assert len(found) == len(tokens), "every link in the e-mail is a real one"
    return [found[digest(t)] for t in tokens]


def token_of(link_url: str) -> str:
    return LINK.search(link_url).group(1)


def decide(url: str, decision: str) -> dict[str, str]:
    """At the sandbox's consent screen (over HTTP, as a browser): press a button; return the
    query the owner is sent back with."""
    with requests.Session() as browser:
        page = browser.get(url, timeout=10)
        form = {name: html.unescape(value) for name, value in HIDDEN_INPUT.findall(page.text)}
        form["decision"] = decision
        action = urljoin(url, html.unescape(FORM_ACTION.search(page.text).group(1)))
        answer = browser.post(
            action,
            data=form,
            cookies={settings.CSRF_COOKIE_NAME: browser.cookies.get(settings.CSRF_COOKIE_NAME)},
            headers={"Referer": url},
            allow_redirects=False,
            timeout=10,
        )
    assert answer.status_code == 302
    return dict(parse_qsl(urlsplit(answer.headers["Location"]).query))


def complete(link: ConsentLink, *, decision: str = "allow") -> Client:
    """The owner's side, in a browser session of their own: open the link, continue to Dropbox
    (the sandbox), decide, come back."""
    client = Client()
    path = urlsplit(link.get_absolute_url()).path
    assert client.get(path).status_code == 200
    response = client.post(path)
    assert response.status_code == 302, response.content[:500]
    back = client.get("/instances/oauth/callback/", decide(response["Location"], decision))
    assert back.status_code == 302, back.content[:500]
    return client
