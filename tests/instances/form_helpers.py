"""Reading the instance form at /instances/new/, and filling it in.

The page is read with the standard library's HTML parser and a few regular expressions: a
field's form row, its label, the API names in code formatting, its help text and an input's
value. `valid_data` is a form that passes; `assert_rejected` checks a refusal.
"""

from __future__ import annotations

import html
import re
import uuid
from html.parser import HTMLParser

from instances import forms
from instances.models import ElementInstance

NEW = "/instances/new/"


CLIENT_SECRET = "app-secret-never-echoed-4567"


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.found.append((tag, {name: value for name, value in attrs}))


def elements(page: str, tag: str, **attrs: str) -> list[dict]:
    """Attributes of every `tag` element whose attributes include `attrs`."""
    parser = _Tags()
    parser.feed(page)
    return [
        found
        for name, found in parser.found
        if name == tag and all(found.get(key) == value for key, value in attrs.items())
    ]


def text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def row(page: str, field: str) -> str:
    """The HTML of one field's form row: label cell, widget, errors and help text."""
    start = re.search(rf'class="form-row field-{field}( errors)?"', page)
    assert start, f"no form row for {field}"
    end = page.find('class="form-row ', start.end())
    return page[start.start() : end if end != -1 else page.index("</form>", start.end())]


def label_of(page: str, field: str) -> str:
    cell = row(page, field)
    found = re.search(
        r'<label for="id_[^"]+"[^>]*>(.*?)</label>|<span class="label[^"]*"[^>]*>(.*?)</span>', cell
    )
    assert found, f"no label for {field}"
    return text(found.group(1) or found.group(2))


def codes_of(page: str, field: str) -> list[str]:
    return [text(code) for code in re.findall(r"<code[^>]*>(.*?)</code>", row(page, field))]


def help_of(page: str, field: str) -> str:
    found = re.search(r'<div class="help"[^>]*>(.*?)</div>', row(page, field), re.S)
    return text(found.group(1)) if found else ""


def value_of(page: str, name: str) -> str | None:
    (found,) = elements(page, "input", name=name)
    return found.get("value")


def valid_data(**overrides) -> dict:
    data = {
        "instance_uuid": str(uuid.uuid4()),
        "name": "Finance Dropbox",
        "element_key": "dropbox",
        "authentication_type": "oauth2",
        "oauth_callback_url": forms.oauth_callback_url(),
        "oauth_api_key": "app-key-123",
        "oauth_api_secret": CLIENT_SECRET,
        "api_key": "",
        "event_callback_url": "",
        "signature_key": "",
        "tags": "",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def assert_rejected(response, field: str, message: str, calls: list, *, saved: int = 0) -> None:
    """A 400 naming the field, with nothing saved and nothing sent to Cloud Elements."""
    assert response.status_code == 400
    assert any(message in error for error in response.context["form"].errors.get(field, []))
    assert f'class="form-row field-{field} errors"' in response.text
    assert message in text(row(response.text, field))
    assert ElementInstance.objects.count() == saved
    assert calls == []
