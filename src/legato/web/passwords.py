"""Password hashing with scrypt (hashlib, no dependency): salted, memory-hard, and compared in
constant time.

A hash reads ``scrypt$<n>$<r>$<p>$<salt>$<digest>`` (base64), so the cost can be raised later
without invalidating stored hashes. N=2**14, r=8, p=1 (16 MiB, tens of milliseconds) is the
cost Django's scrypt hasher uses: slow for an attacker with a stolen table, quick for a sign-in.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os

from legato.domain.errors import FieldIssue, ValidationFailed

N, R, P = 2**14, 8, 1
_MAXMEM = 64 * 1024 * 1024
MIN_LENGTH, MAX_LENGTH = 10, 256


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=32)


def check_policy(password: str, path: str = "password") -> None:
    """Refuse a password too short to resist guessing, or too long to hash cheaply."""
    msg = None
    if len(password) < MIN_LENGTH:
        msg = f"use at least {MIN_LENGTH} characters"
    elif len(password) > MAX_LENGTH:
        msg = f"use at most {MAX_LENGTH} characters"
    elif not password.strip():
        msg = "a password of spaces only is not a password"
    if msg:
        raise ValidationFailed(
            f"the password is not acceptable: {msg}", issues=[FieldIssue(path, msg, "weak")]
        )


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(_derive(password, salt, N, R, P))}"


def verify_password(password: str, stored: str) -> bool:
    """True if ``password`` matches ``stored``; False for any malformed hash."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt" or len(password) > MAX_LENGTH:
            return False
        expected = base64.b64decode(digest)
        actual = _derive(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


@functools.cache
def dummy_hash() -> str:
    """Verified against when the user does not exist, so an unknown name takes as long as a
    wrong password (made on first use: hashing at import would slow every command down)."""
    return hash_password("legato: no such user")


__all__ = ["MAX_LENGTH", "MIN_LENGTH", "check_policy", "dummy_hash", "hash_password", "verify_password"]
