"""Writes. Every change goes through a service, which checks permission and records audit."""
