"""The pure core: everything that decides and explains, with no Django.

Fetch facts, hosts and origins, the request's ``Origin``, the decision, the
matcher and packed rows, the snapshot and how it is compiled, the settings
parser, the diagnosis and the cookie verdicts.  Modules here import only the
standard library, ``idna``, ``publicsuffixlist`` and each other: an
import-linter contract in ``pyproject.toml`` forbids ``django``.
"""
