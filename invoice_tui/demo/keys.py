"""Demo service-account keys: generated per process, never stored in the repository."""

from __future__ import annotations

import functools
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .data import DemoAccount


@functools.cache
def private_key(account_name: str) -> rsa.RSAPrivateKey:
    """The RSA key of a demo Voximplant account, made once per process (generation is slow)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_key(account_name: str) -> rsa.RSAPublicKey:
    """The public half the emulator verifies JWTs with."""
    return private_key(account_name).public_key()


def private_key_pem(account_name: str) -> str:
    """The private key as PKCS#8 PEM text, as a Voximplant credentials.json carries it."""
    return private_key(account_name).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def credentials(account: DemoAccount) -> dict[str, Any]:
    """The credentials.json content of a demo Voximplant account."""
    return {
        "account_email": account.email,
        "account_id": account.account_id,
        "key_id": account.key_id,
        "private_key": private_key_pem(account.name),
    }
