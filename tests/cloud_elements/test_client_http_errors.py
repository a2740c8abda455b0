"""How the client maps Cloud Elements' HTTP error answers into its error family.

Each documented status raises its own error carrying Cloud Elements' request id and words; a 5xx
is an ambiguous server error, even as an HTML page; every public function raises only the
client's errors, and every error the client defines is a `CloudElementsError` with a message.
The answers come from the scripted server of fault_server.py.
"""

from __future__ import annotations

import inspect

import pytest

from instances.cloud_elements import client as cloud_elements
from instances.cloud_elements.client import (
    CloudElementsAuthenticationError,
    CloudElementsBadRequestError,
    CloudElementsConflictError,
    CloudElementsError,
    CloudElementsNotFoundError,
    CloudElementsServerError,
)
from tests.cloud_elements.fault_server import (
    PUBLIC_CALLS,
    create,
    reply,
)


def test_it_raises_a_server_error_carrying_cloud_elements_own_words(remote):
    remote.will(
        reply(
            500,
            {
                "requestId": "53dbca9430045c016b46566c",
                "message": "Failed to create the instance.",
                "providerMessage": "Dropbox is having a bad day",
            },
        )
    )

    with pytest.raises(CloudElementsServerError) as caught:
        create()

    error = caught.value
    assert error.status == 500
    assert error.ambiguous is True
    assert error.request_id == "53dbca9430045c016b46566c"
    assert error.remote_message == "Failed to create the instance."
    assert error.provider_message == "Dropbox is having a bad day"
    assert "Failed to create the instance." in error.message
    assert "Dropbox is having a bad day" in error.message
    assert str(error) == error.message


def test_it_raises_a_server_error_for_an_html_error_page(remote):
    remote.will(
        reply(500, b"<html><body><h1>Internal Server Error</h1></body></html>", "text/html")
    )

    with pytest.raises(CloudElementsServerError) as caught:
        cloud_elements.get_instance(58992)

    assert caught.value.status == 500
    assert caught.value.request_id == ""
    assert caught.value.remote_message == ""
    assert caught.value.message == CloudElementsServerError.default_message


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, CloudElementsBadRequestError),
        (401, CloudElementsAuthenticationError),
        (404, CloudElementsNotFoundError),
        (409, CloudElementsConflictError),
    ],
)
def test_it_maps_each_documented_status_to_its_error(remote, status, error_class):
    remote.will(reply(status, {"requestId": f"request-{status}", "message": f"Said {status}."}))

    with pytest.raises(error_class) as caught:
        create()

    assert type(caught.value) is error_class
    assert caught.value.status == status
    assert caught.value.request_id == f"request-{status}"
    assert caught.value.remote_message == f"Said {status}."
    assert caught.value.message.startswith(error_class.default_message)
    assert caught.value.ambiguous is False
    assert remote.methods() == ["POST"]


@pytest.mark.parametrize("name", sorted(PUBLIC_CALLS))
def test_every_public_function_raises_only_the_client_errors(remote, name):
    remote.will(reply(500, {"requestId": "r-500", "message": "Something went wrong."}))

    with pytest.raises(CloudElementsError) as caught:
        PUBLIC_CALLS[name]()

    assert isinstance(caught.value, CloudElementsServerError)
    assert caught.value.status == 500
    assert caught.value.request_id == "r-500"


def test_every_error_is_a_cloud_elements_error():
    errors = [
        value
        for value in vars(cloud_elements).values()
        if inspect.isclass(value)
        and issubclass(value, Exception)
        and value.__module__ in (cloud_elements.__name__, "instances.cloud_elements.types")
    ]

    assert len(errors) >= 10
    assert all(issubclass(error, CloudElementsError) for error in errors)
    assert all(error().message for error in errors)
