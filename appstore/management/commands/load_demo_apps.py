"""`manage.py load_demo_apps`: the built-in demo charts (idempotent; a second run changes nothing)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from appstore.demo import load_demo_apps
from tenants.demo import OPERATOR


class Command(BaseCommand):
    help = "Load the built-in demo chart repository (web app, cache, batch job in several versions)."

    def handle(self, *args, **options):
        from django.contrib.auth import get_user_model

        actor = get_user_model().objects.filter(username=OPERATOR).first()
        changes = load_demo_apps(actor=actor)
        if changes:
            self.stdout.write("Demo apps loaded: " + ", ".join(changes))
        else:
            self.stdout.write("Demo apps: nothing changed")
