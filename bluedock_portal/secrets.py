"""Encryption at rest for credentials the portal must keep (cluster tokens, registry passwords).

Fernet (AES-128-CBC + HMAC) from ``cryptography``. Keys come from CREDENTIALS_KEYS (comma-
separated Fernet keys, newest first, so keys can be rotated: old ones still decrypt), or
are derived from SECRET_KEY on a laptop. Ciphertext never leaves the model layer.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _fernet() -> MultiFernet:
    keys = list(settings.CREDENTIALS_KEYS)
    if not keys:
        derived = base64.urlsafe_b64encode(hashlib.sha256(f"bluedock-credentials:{settings.SECRET_KEY}".encode())
                                           .digest())
        keys = [derived.decode()]
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except ValueError:
        raise ImproperlyConfigured("CREDENTIALS_KEYS must be Fernet keys (32 url-safe base64 bytes each)") from None


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode() if plaintext else ""


def decrypt(ciphertext: str) -> str:
    if not ciphertext:
        return ""
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured("Stored credentials cannot be decrypted: CREDENTIALS_KEYS lost the key "
                                   "they were written with") from None
