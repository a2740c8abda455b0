"""gunicorn's access log without secrets: `--logger-class instances.lib.access_log.RedactingLogger`.

A request line carries what the dashboard's own logs redact: the consent link's token in the
path (`/connect/<token>/`), the OAuth `code` and `state` and the sandbox's `apiSecret` in the
query string. Every field of the access log goes through the same redaction, whatever
`--access-logformat` is in use.
"""

from __future__ import annotations

from gunicorn.glogging import Logger

from instances.lib.logging import redact


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        for name, value in atoms.items():
            if isinstance(value, str):
                # A bare query string (`%(q)s`) has no `?` for the patterns to anchor on.
                atoms[name] = redact("?" + value)[1:] if name == "q" else redact(value)
        return atoms
