"""Provider registry: every module in this package that defines ``PROVIDER``.

Adding a provider is adding one module here; nothing else changes.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from .base import (
    FetchOptions,
    FetchProgress,
    FetchResult,
    FirstPage,
    Provider,
    ProviderError,
)

__all__ = [
    "FetchOptions", "FetchProgress", "FetchResult", "FirstPage", "Provider", "ProviderError",
    "provider_class", "provider_names",
]


@cache
def _registry() -> dict[str, type[Provider]]:
    found: dict[str, type[Provider]] = {}
    for module_info in pkgutil.iter_modules(__path__):
        if module_info.name.startswith("_") or module_info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        provider = getattr(module, "PROVIDER", None)
        if provider is not None:
            found[provider.name] = provider
    return dict(sorted(found.items()))


def provider_names() -> list[str]:
    """Config names of every known provider, sorted."""
    return list(_registry())


def provider_class(name: str) -> type[Provider] | None:
    """The provider class for a config ``provider =`` value, or ``None``."""
    return _registry().get(name)
