"""``X-Hub-Signature-256`` checks: HMAC-SHA256 of the raw body with the webhook secret.

GitHub signs the exact bytes it sends, so the check runs on the raw body before any JSON
parsing, and compares in constant time (``hmac.compare_digest``) so that timing does not leak
how much of a forged signature was right. The receiver reads the header first
(``header_digest``: a delivery without a well-formed one is refused before its body is read),
then feeds the body to a ``hasher`` chunk by chunk as it arrives and checks it with ``matches``.
"""

from __future__ import annotations

import hashlib
import hmac
import re

PREFIX = "sha256="
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


def sign(secret: bytes, body: bytes) -> str:
    """The header value GitHub would send for ``body``: ``sha256=<hex digest>``."""
    return PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def header_digest(header: str | None) -> bytes | None:
    """The 32-byte digest a well-formed ``sha256=<64 hex digits>`` header carries (either case), else ``None``."""
    if not header or not header.startswith(PREFIX):
        return None
    given = header[len(PREFIX) :].strip().lower()
    return bytes.fromhex(given) if _HEX_DIGEST.fullmatch(given) else None


def hasher(secret: bytes) -> hmac.HMAC:
    """An HMAC-SHA256 under ``secret`` to ``update()`` with each chunk of a body."""
    return hmac.new(secret, digestmod=hashlib.sha256)


def matches(mac: hmac.HMAC, digest: bytes) -> bool:
    """True when the body fed to ``mac`` has the signature ``digest`` (from ``header_digest``)."""
    return hmac.compare_digest(mac.digest(), digest)


def verify(secret: bytes, body: bytes, header: str | None) -> bool:
    """True when ``header`` is a valid ``sha256=`` signature of ``body`` under ``secret``."""
    digest = header_digest(header)
    if digest is None:
        return False
    mac = hasher(secret)
    mac.update(body)
    return matches(mac, digest)
