"""Answers under /api/ that Django Ninja leaves as HTML (a method the address does not have)
are given the API's JSON form, keeping their status and `Allow` header."""

from __future__ import annotations

from django.http import JsonResponse


class JsonMethodNotAllowedMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 405 and request.path.startswith("/api/"):
            allowed = response.get("Allow", "")
            answer = JsonResponse(
                {
                    "detail": f"This address does not take {request.method}; it takes {allowed}.",
                    "errors": {},
                },
                status=405,
            )
            answer["Allow"] = allowed
            return answer
        return response
