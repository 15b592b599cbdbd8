"""A keyring backend for tests: secrets in a JSON file (mode 0600) named by an env var.

Selected in a subprocess with ``PYTHON_KEYRING_BACKEND=keyring_backend.JsonFileKeyring``
(with this folder on ``PYTHONPATH``) and in-process with ``keyring.set_keyring``, so
tests exercise keyring's own lookup and API without touching the user's keyring.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

#: The env var naming the JSON file the secrets live in.
FILE_ENV = "INVOICE_TUI_TEST_KEYRING"


class JsonFileKeyring(KeyringBackend):
    """``{"service\\0username": password}`` in the file ``$INVOICE_TUI_TEST_KEYRING``."""

    priority = 1  # a plain number is what keyring reads

    @property
    def path(self) -> Path:
        return Path(os.environ[FILE_ENV])

    def _read(self) -> dict[str, str]:
        try:
            data: dict[str, str] = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return data

    def _write(self, data: dict[str, str]) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump(data, file)

    def get_password(self, service: str, username: str) -> str | None:
        return self._read().get(f"{service}\0{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._read()
        data[f"{service}\0{username}"] = password
        self._write(data)

    def delete_password(self, service: str, username: str) -> None:
        data = self._read()
        if data.pop(f"{service}\0{username}", None) is None:
            raise PasswordDeleteError("not found")
        self._write(data)


class BrokenKeyring(KeyringBackend):
    """A backend whose every call fails, its message quoting what it was given."""

    priority = 1

    def get_password(self, service: str, username: str) -> str | None:
        raise RuntimeError(f"D-Bus said no to {service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise RuntimeError(f"could not store {password!r}")

    def delete_password(self, service: str, username: str) -> None:
        raise RuntimeError("no")
