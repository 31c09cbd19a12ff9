"""Channel and connector secrets, encrypted at rest with a key from LEGATO_SECRET_KEY.

Fernet (AES-128-CBC + HMAC-SHA256) under a key derived from the configured secret
with HKDF; rotating LEGATO_SECRET_KEY therefore needs the old key to re-encrypt.
"""

from __future__ import annotations

import base64
import json

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class SecretBox:
    def __init__(self, secret_key: str) -> None:
        raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"legato-secrets-v1", info=b"channel-secrets")
        key = raw.derive(secret_key.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, secrets: dict[str, str]) -> str | None:
        if not secrets:
            return None
        return self._fernet.encrypt(json.dumps(secrets, sort_keys=True).encode()).decode()

    def open(self, token: str | None) -> dict[str, str]:
        if not token:
            return {}
        try:
            return dict(json.loads(self._fernet.decrypt(token.encode())))
        except InvalidToken:
            raise RuntimeError(
                "stored secrets cannot be decrypted: LEGATO_SECRET_KEY differs from the key they were "
                "written with"
            ) from None


def mask(secrets: dict[str, str]) -> dict[str, str]:
    """What the API shows of secrets: that they are set, never their value."""
    return {name: "********" for name in secrets}
