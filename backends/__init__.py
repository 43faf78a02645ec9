"""One module per external system; the only code that imports their SDKs.

Frozen dataclasses cross the boundary and every failure is a
:class:`~backends.errors.BackendTransientError` or :class:`~backends.errors.BackendPermanentError`.
"""
