"""Computing the codes an authenticator app would show, from the device's secret."""

from __future__ import annotations

import re
import time

from django.test import Client
from django_otp.oath import TOTP

from instances.accounts.models import Authenticator

ENROL = "/account/two-factor/"
VERIFY = "/account/two-factor/verify/"


def totp_code(device: Authenticator, *, steps_ahead: int = 0) -> str:
    """The code the app shows now (or `steps_ahead` 30-second steps later).

    A code is accepted once: a second sign-in in the same 30 seconds uses the next step's code,
    which the default tolerance of one step accepts.
    """
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def wrong_code(device: Authenticator) -> str:
    valid = {totp_code(device, steps_ahead=n) for n in (-1, 0, 1)}
    return next(c for c in (f"{n:06d}" for n in range(123456, 999999, 7919)) if c not in valid)


def enrol(client: Client) -> tuple[Authenticator, list[str]]:
    """Enrol the client's signed-in user with a real code; return the device and the codes."""
    client.get(ENROL)
    device = Authenticator.objects.get(user_id=client.session["_auth_user_id"], confirmed=False)
    response = client.post(ENROL, {"code": totp_code(device)})
    assert response.status_code == 200, response.text
    device.refresh_from_db()
    assert device.confirmed
    # Shown once, on this page; kept only as hashes.
    codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", response.text)
    assert len(codes) == 10
    return device, codes


def log_in(client: Client, username: str, password: str, next_url: str = "/instances/"):
    data = {"username": username, "password": password, "next": next_url}
    return client.post("/admin/login/", data)
