from __future__ import annotations

from django.contrib import admin
from django.urls import path

from example_project.api import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/csrf", views.csrf),
    path("api/login", views.login_view),
    path("api/logout", views.logout_view),
    path("api/me", views.me),
    path("api/notes", views.notes),
]
