"""``X-Hub-Signature-256`` checks: HMAC-SHA256 of the raw body with the webhook secret.

GitHub signs the exact bytes it sends, so the check runs on the raw body before any JSON
parsing, and compares in constant time (``hmac.compare_digest``) so that timing does not leak
how much of a forged signature was right.
"""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "sha256="


def sign(secret: bytes, body: bytes) -> str:
    """The header value GitHub would send for ``body``: ``sha256=<hex digest>``."""
    return PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, header: str | None) -> bool:
    """True when ``header`` is a valid ``sha256=`` signature of ``body`` under ``secret``."""
    if not header or not header.startswith(PREFIX):
        return False
    given = header[len(PREFIX) :].strip().lower()
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(given.encode("ascii", "replace"), expected.encode("ascii"))
