"""The admin as the control room: what a change does, what overlaps, import, the effective list, readiness.

Django-facing helpers for :mod:`credcors.admin`, each in its own module; they
call the diagnosis code and the import code that ``manage.py credcors`` uses,
and never re-implement a rule.
"""
