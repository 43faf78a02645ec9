"""The app store: chart repositories, apps and versions, uploads and their review.

Archives live in the database (``ChartArchive``, keyed by sha256): uploads are capped
at APPSTORE_MAX_CHART_BYTES (512 KiB by default; real charts are 5-50 KiB), so rows
stay small; storing them in the same transaction as the version means a refused or
failed upload can never leave an orphan file behind, and backups need nothing extra.
Synced charts are not copied: their versions point at the repository (``source_url``).
Roles and visibility: see ``appstore.permissions``.
"""
