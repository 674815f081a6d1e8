"""X-Hub-Signature-256: HMAC-SHA256 of the raw body."""

from __future__ import annotations

import hashlib
import hmac

from bot.webhooks.signature import sign, verify

SECRET = b"s3cr3t-for-tests"
BODY = b'{"zen": "Keep it logically awesome."}'


def test_sign_matches_an_independent_hmac() -> None:
    expected = "sha256=" + hmac.new(SECRET, BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, BODY) == expected


def test_verify_accepts_its_own_signature_in_either_case() -> None:
    header = sign(SECRET, BODY)
    assert verify(SECRET, BODY, header)
    assert verify(SECRET, BODY, "sha256=" + header.removeprefix("sha256=").upper())


def test_verify_rejects_a_changed_body_or_secret() -> None:
    header = sign(SECRET, BODY)
    assert not verify(SECRET, BODY + b" ", header)
    assert not verify(b"other-secret", BODY, header)


def test_verify_rejects_missing_or_malformed_headers() -> None:
    digest = sign(SECRET, BODY).removeprefix("sha256=")
    for header in (None, "", digest, "sha1=" + digest, "sha256=", "sha256=zz", "sha256=é"):
        assert not verify(SECRET, BODY, header), header
