"""Small template filters."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from instances.templatetags.dashboard_extras import ago


def test_under_a_minute_is_just_now():
    now = timezone.now()
    assert ago(now - timedelta(seconds=59), now) == "just now"
    assert ago(now, now) == "just now"
    # A clock a little ahead on another host is not "in the future".
    assert ago(now + timedelta(seconds=5), now) == "just now"


def test_a_minute_or_more_says_how_long_ago():
    now = timezone.now()
    assert ago(now - timedelta(minutes=1), now) == "1\xa0minute ago"
    assert ago(now - timedelta(hours=2, minutes=5), now) == "2\xa0hours, 5\xa0minutes ago"


def test_nothing_is_empty():
    assert ago(None) == ""
