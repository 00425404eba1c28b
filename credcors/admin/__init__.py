"""credcors in the Django admin: the allow-list, refused origins, the import page, the status panel.

Importing this package (Django's admin autodiscovery does) registers
``AllowedOrigin`` and ``RefusedOrigin``.
"""

from credcors.admin import origins  # noqa: F401 - registers AllowedOrigin (and, through it, RefusedOrigin)
