"""The pure core of the app store: chart archives, SemVer, repository indexes, manifests.

Standard library + yaml + jsonschema only (an import-linter contract keeps Django,
requests and subprocess out). Every function takes bytes or text and returns frozen
dataclasses or raises :class:`ChartError` with a machine-readable code, so the same
checks run for uploads, synced charts and tests without a database.
"""

from .errors import ChartError

__all__ = ["ChartError"]
