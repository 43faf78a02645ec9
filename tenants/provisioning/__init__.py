"""Namespace provisioning: what each portal namespace must contain in its cluster."""
