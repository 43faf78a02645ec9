from django.apps import AppConfig


class AppstoreConfig(AppConfig):
    name = "appstore"
    verbose_name = "App store"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import tasks  # noqa: F401  (registers the operation runners)
