"""Sandbox stand-ins for external systems a laptop lacks (see DESIGN.md, "Real parts").

``sandbox.kube`` is not a package: the Kubernetes API lives in the modules of this package
(server, store, registry, ...) and is started by ``python manage.py sandbox`` or, in tests,
by ``sandbox.testing.running_sandbox``. It imports only the standard library and PyYAML.
"""
