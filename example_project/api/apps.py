from __future__ import annotations

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "example_project.api"
    label = "example_api"
