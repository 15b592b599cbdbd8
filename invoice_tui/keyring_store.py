"""Account secrets in the OS keyring (issue 10 §4), through the ``keyring`` library.

Each secret is stored under the service name ``invoice-tui`` with the account's
name as the username: an Unleash token, or a Voximplant service-account key file's
JSON. The backend is resolved the standard way (``PYTHON_KEYRING_BACKEND``, then
keyringrc, then the best one the platform offers), so users and tests choose it
without code here.

Every failure is a one-line :class:`~invoice_tui.providers.base.ProviderError`
(reason — hint) that never quotes a secret, nor the backend's own error text,
which could (a backend may echo what it was given): only its type is named.
``keyring`` is deferred (:mod:`invoice_tui.deferred`): importing it and finding a
backend costs ~0.15 s of CPU, so it loads when a secret is first needed, off the
UI thread (providers are built in a worker thread).
"""

from __future__ import annotations

import shlex
import threading

import keyring

from .providers.base import ProviderError

#: The keyring's service name of every invoice-tui secret; the username is the account name.
SERVICE = "invoice-tui"

_FIX = ("install or unlock one (GNOME Keyring, KWallet, Keychain…), set "
        "PYTHON_KEYRING_BACKEND, or keep token_env / a credentials file in the config")
# One keyring call at a time: accounts are built in parallel threads, and a locked
# Secret Service or Keychain would otherwise raise one unlock prompt per account.
_lock = threading.Lock()
# Backends that exist but keep nothing: "working" with them would lose the secret.
_USELESS = ("keyring.backends.fail", "keyring.backends.null")


def _backend_name(backend: object) -> str:
    """``fail.Keyring``, ``SecretService.Keyring``: the backend as keyring users know it."""
    cls = type(backend)
    return f"{cls.__module__.removeprefix('keyring.backends.')}.{cls.__name__}"


def keyring_problem() -> str | None:
    """Why no secret can be kept in the OS keyring, as one line naming the fix; ``None``
    when a backend that stores secrets is in use.

    Resolving the backend (the first call) imports keyring's plugins: call it off the
    UI thread.
    """
    problem = _unusable_backend()
    return f"{problem} — {_FIX}" if problem else None


def _unusable_backend() -> str | None:
    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # a PYTHON_KEYRING_BACKEND naming nothing, a broken keyringrc
        return f"no OS keyring available ({type(exc).__name__} choosing the backend)"
    module = type(backend).__module__
    # The chainer over no backend at all behaves as the null one.
    empty_chain = module == "keyring.backends.chainer" and not getattr(backend, "backends", ())
    if module in _USELESS or empty_chain:
        return f"no OS keyring available (keyring backend {_backend_name(backend)})"
    return None


def _require_backend() -> None:
    problem = _unusable_backend()
    if problem is not None:
        raise ProviderError(problem, _FIX)


def _backend_error(exc: Exception, doing: str) -> ProviderError:
    # Matched by name: keyring.errors is only reachable by loading keyring (it is deferred),
    # and a backend's own exceptions (D-Bus, Keychain) are not keyring's anyway.
    names = {cls.__name__ for cls in type(exc).__mro__}
    if "KeyringLocked" in names:
        return ProviderError(f"the OS keyring is locked ({doing})",
                             "unlock it (log in to the desktop session) and try again")
    return ProviderError(f"the OS keyring failed {doing} ({type(exc).__name__})",
                         "check that it is unlocked and working, set PYTHON_KEYRING_BACKEND, "
                         "or keep token_env / a credentials file in the config")


def get_secret(account: str) -> str:
    """The secret stored for ``account``; :class:`ProviderError` when there is no usable
    backend, the backend fails, or nothing (or only blanks) is stored."""
    with _lock:
        _require_backend()
        try:
            value = keyring.get_password(SERVICE, account)
        except Exception as exc:
            raise _backend_error(exc, f"reading the secret of {account}") from None
    if value is None or not value.strip():
        raise ProviderError(f"no secret for {account} in the keyring",
                            f"run: invoice-tui secret set {shlex.quote(account)}")
    return value


def set_secret(account: str, value: str) -> None:
    """Store ``value`` as the secret of ``account`` (replacing any); :class:`ProviderError`
    when there is no usable backend or it refuses."""
    with _lock:
        _require_backend()
        try:
            keyring.set_password(SERVICE, account, value)
        except Exception as exc:
            raise _backend_error(exc, f"storing the secret of {account}") from None


def delete_secret(account: str) -> bool:
    """Remove the secret of ``account``; ``False`` when none was stored.

    :class:`ProviderError` when there is no usable backend or it fails.
    """
    with _lock:
        _require_backend()
        try:
            # Asked first: "not found" has no portable exception across backends.
            if keyring.get_password(SERVICE, account) is None:
                return False
            keyring.delete_password(SERVICE, account)
        except Exception as exc:
            raise _backend_error(exc, f"removing the secret of {account}") from None
    return True
