from django.apps import AppConfig


class SandboxConfig(AppConfig):
    """Only here so ``manage.py sandbox`` is found; the sandbox itself does not use Django."""

    name = "sandbox"
    default_auto_field = "django.db.models.BigAutoField"
