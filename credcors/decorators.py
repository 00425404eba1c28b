"""Name the CORS policy of a view.

Function views take the decorator; class-based views (Django's, Django REST
framework's views and viewsets) set a ``cors_policy`` class attribute.  A
view with neither uses the policy named ``"default"``: the top-level keys of
``settings.CREDCORS``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

__all__ = ["cors_policy"]

V = TypeVar("V", bound=Callable[..., object])


def cors_policy(name: str) -> Callable[[V], V]:
    """Answer CORS requests to the decorated view with the policy ``name`` of ``CREDCORS["POLICIES"]``.

    ::

        @cors_policy("public")
        def status(request): ...

    The name is checked against the settings by the system check
    ``credcors.E020``; a request to a view whose policy does not exist is
    refused.
    """
    if not isinstance(name, str):
        raise TypeError(f"cors_policy() takes the name of a policy, not {name!r}.")

    def decorate(view: V) -> V:
        view.cors_policy = name  # type: ignore[attr-defined]
        return view

    return decorate
