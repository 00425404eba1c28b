"""The credcors benchmark: ``python3 dev.py bench`` (see README, "Benchmark").

Not part of the package: it compares credcors with django-cors-headers, each
configuration in its own process so Django's process-global settings never
leak from one configuration into another.
"""
