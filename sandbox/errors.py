"""Kubernetes ``Status`` errors with the API server's own reasons and message texts."""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self) -> dict:
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "code": self.code}
        if self.details is not None:
            body["details"] = self.details
        return body


def not_found(qualified: str, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{qualified} "{name}" not found', _details(qualified, name))


def already_exists(qualified: str, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{qualified} "{name}" already exists', _details(qualified, name))


def conflict(qualified: str, name: str) -> ApiError:
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {qualified} "{name}": the object has been '
                    "modified; please apply your changes to the latest version and try again",
                    _details(qualified, name))


def namespace_terminating(name: str) -> ApiError:
    """A DELETE of a namespace already being deleted: the real registry refuses it so."""
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on namespaces "{name}": The system is ensuring '
                    "all content is removed from this namespace.  Upon completion, this namespace will automatically "
                    "be purged by the system.", _details("namespaces", name))


def forbidden(qualified: str, name: str, why: str) -> ApiError:
    return ApiError(403, "Forbidden", f'{qualified} "{name}" is forbidden: {why}', _details(qualified, name))


def invalid(kind: str, name: str, causes: list[tuple[str, str]]) -> ApiError:
    """422 Invalid; ``causes`` are (field, message) pairs such as ("metadata.name", "Required value: ...")."""
    text = "; ".join(f"{field}: {msg}" for field, msg in causes)
    if len(causes) > 1:
        text = "[" + ", ".join(f"{field}: {msg}" for field, msg in causes) + "]"
    details = {"name": name, "kind": kind,
               "causes": [{"field": f, "message": m, "reason": m.split(":")[0].replace(" ", "")} for f, m in causes]}
    return ApiError(422, "Invalid", f'{kind} "{name}" is invalid: {text}', details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def _details(qualified: str, name: str) -> dict:
    group = qualified.partition(".")[2]
    details = {"name": name, "kind": qualified.partition(".")[0]}
    if group:
        details["group"] = group
    return details
