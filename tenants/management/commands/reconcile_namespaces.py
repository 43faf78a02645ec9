"""``python manage.py reconcile_namespaces [--cluster NAME]``: make clusters match the portal now, inline."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from backends.errors import BackendError
from tenants.models import Namespace
from tenants.services.provisioning import namespace_reconcile


class Command(BaseCommand):
    help = "Reconcile every namespace (of one cluster) now, in this process; reports what each pass did."

    def add_arguments(self, parser):
        parser.add_argument("--cluster", default="", help="Only namespaces of this cluster.")

    def handle(self, *args, cluster="", **options):
        namespaces = Namespace.objects.select_related("tenant", "cluster").exclude(state=Namespace.State.DELETING)
        if cluster:
            namespaces = namespaces.filter(cluster__name=cluster)
        failed = 0
        for namespace in namespaces:
            try:
                result = namespace_reconcile(namespace=namespace)
            except BackendError as exc:
                failed += 1
                self.stderr.write(f"  ! {namespace.cluster.name}/{namespace.name}: {exc}")
                continue
            self.stdout.write(f"  = {namespace.cluster.name}/{namespace.name}: {len(result['applied'])} applied, "
                              f"{len(result['pruned'])} pruned")
        if failed:
            self.stderr.write(f"{failed} namespace(s) could not be reconciled; the periodic pass will retry.")
