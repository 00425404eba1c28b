"""The table of django-cors-headers' documented ``check_request_enabled`` recipe."""

from __future__ import annotations

from typing import ClassVar

from django.db import models


class MySite(models.Model):
    """One allowed origin, as in django-cors-headers' README ("MySite.host")."""

    # Indexed (unique): the recipe's query is a lookup on this column, and an
    # unindexed table would make the comparison unfair to django-cors-headers.
    host = models.CharField(max_length=300, unique=True)

    # Django adds this default manager; declared for mypy, whose Django plugin
    # reads tests.settings, where the bench app is not installed.
    objects: ClassVar[models.Manager[MySite]]

    class Meta:
        app_label = "bench"

    def __str__(self) -> str:
        return self.host
