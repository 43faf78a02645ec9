"""HTTP front of the sandbox Kubernetes API: routing, auth, fault injection, JSON and watch streams."""

from __future__ import annotations

import json
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import yaml

from . import admin, errors, openapi, protobuf, rbac, subresources, tables
from .convert import from_storage
from .handlers import Api
from .selectors import parse_fields, parse_labels

VERSION = {"major": "1", "minor": "31", "gitVersion": "v1.31.0", "gitCommit": "sandbox", "gitTreeState": "clean",
           "buildDate": "2024-08-13T00:00:00Z", "goVersion": "go1.22.5", "compiler": "gc", "platform": "linux/amd64"}
NOT_FOUND = errors.ApiError(404, "NotFound", "the server could not find the requested resource")


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, api: Api):
        self.api = api
        self.stopping = threading.Event()
        super().__init__(address, Handler)
        api.server_address = f"{self.server_address[0]}:{self.server_address[1]}"

    def shutdown(self):
        self.stopping.set()
        with self.api.store.changed:
            self.api.store.changed.notify_all()
        super().shutdown()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, each keep-alive response then
    # waits for the client's delayed ACK (~40 ms). Real API servers set TCP_NODELAY too.
    disable_nagle_algorithm = True
    server: SandboxServer

    def log_message(self, format, *args):  # noqa: A002 - quiet; tests read statuses, not access logs
        pass

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_PATCH(self):
        self._dispatch("PATCH")

    def do_DELETE(self):
        self._dispatch("DELETE")

    # Plumbing ------------------------------------------------------------------------------
    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, code: int, payload, content_type: str = "application/json") -> None:
        data = payload if isinstance(payload, bytes) else (
            payload.encode() if isinstance(payload, str) else json.dumps(payload).encode())
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        body = self._body()
        api = self.server.api
        try:
            if url.path.startswith("/sandbox/"):
                code, payload = admin.handle(api, method, url.path, body)
                return self._send(code, payload)
            self.user = rbac.authenticate(api, self.headers)
            ctype = self.headers.get("Content-Type") or ""
            if "protobuf" in ctype:
                body = protobuf.to_json(body)  # kubectl's typed commands; we answer in JSON, which they accept
            elif ctype.startswith("application/yaml") and method in ("POST", "PUT"):
                body = json.dumps(yaml.safe_load(body) or {}).encode()
            self._serve(api, method, url.path, query, body)
        except errors.ApiError as exc:
            self._send(exc.code, exc.status())
        except (ValueError, KeyError, TypeError) as exc:
            self._send(400, errors.bad_request(f"bad request: {exc}").status())
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # noqa: BLE001 - answer like the API server's panic handler, keep serving
            traceback.print_exc()
            self._send(500, errors.ApiError(500, "InternalError", f"Internal error occurred: {exc!r}").status())

    def _fault(self, api: Api, method: str, res, name: str) -> None:
        with api.faults_lock:
            fault = next((f for f in api.faults if method in f["methods"]), None)
            if fault is None:
                return
            fault["count"] -= 1
            if fault["count"] <= 0:
                api.faults.remove(fault)
        if fault.get("delay"):
            time.sleep(fault["delay"])  # outside the lock: a slow request does not hold up the others
        if fault["status"] is None:
            return
        if fault["status"] == 409:
            raise errors.conflict(res.qualified, name)
        raise errors.ApiError(fault["status"], "InternalError",
                              "Internal error occurred: injected by the sandbox (fault injection)")

    # Routing -------------------------------------------------------------------------------
    def _serve(self, api: Api, method: str, path: str, query: dict, body: bytes) -> None:
        parts = [p for p in path.split("/") if p]
        simple = {"/version": VERSION, "/api": api.registry.api_versions(api.server_address),
                  "/apis": api.registry.api_group_list()}
        if path.rstrip("/") in simple and method == "GET":
            return self._send(200, simple[path.rstrip("/")])
        if parts[:2] == ["openapi", "v3"] and method == "GET":
            doc = openapi.root(api.registry) if len(parts) == 2 else openapi.group_version(
                api.registry, "/".join(parts[3:]) if parts[2] == "api" else "/".join(parts[3:5]))
            if doc is None:
                raise NOT_FOUND
            return self._send(200, doc)
        if path in ("/healthz", "/readyz", "/livez"):
            return self._send(200, "ok", "text/plain")
        if parts[:1] == ["api"] and len(parts) >= 2:
            gv, rest = parts[1], parts[2:]
        elif parts[:1] == ["apis"] and len(parts) == 2:
            group = api.registry.api_group(parts[1])
            return self._send(200, group) if group else self._send(404, NOT_FOUND.status())
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            gv, rest = f"{parts[1]}/{parts[2]}", parts[3:]
        else:
            raise NOT_FOUND
        if not rest:
            listing = api.registry.resource_list(gv)
            if listing is None:
                raise NOT_FOUND
            return self._send(200, listing)
        ns, plural, name, sub = _split(api, gv, rest)
        res = api.res(gv, plural)
        if res is None or (ns and not res.namespaced):
            raise NOT_FOUND
        self._fault(api, method, res, name)
        target = dict(verb=rbac.verb_of(method, name, query), group=res.group, resource=res.plural, sub=sub, ns=ns,
                      name=name)
        if res.plural.endswith("accessreviews"):
            review = rbac.access_review(api, self.user, json.loads(body or b"{}"), self_review="self" in res.plural)
            return self._send(201, review)
        if not rbac.allowed(api, self.user, **target):
            raise rbac.forbidden(self.user, **target)
        if query.get("watch") in ("true", "1"):
            return self._verb(api, res, method, ns, name, sub, query, body)
        with api.store.dry_run(bool(query.get("dryRun"))):
            self._verb(api, res, method, ns, name, sub, query, body)

    def _verb(self, api: Api, res, method, ns, name, sub, query, body) -> None:
        manager = query.get("fieldManager") or (self.headers.get("User-Agent") or "unknown").split("/")[0]
        ctype = self.headers.get("Content-Type") or "application/json"
        if sub == "scale":
            return self._send(200, subresources.scale(api, res, ns, name, method, body, ctype, manager=manager))
        if sub == "log" and method == "GET":
            return self._send(200, subresources.log(api, ns, name, query), "text/plain")
        if res.plural == "bindings" and method == "POST" and not name:
            binding = json.loads(body or b"{}")
            return self._send(201, subresources.binding(api, ns, binding["metadata"]["name"], binding))
        if res.plural == "bindings":
            raise errors.ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested "
                                  "resource")
        if sub == "binding" and method == "POST":
            return self._send(201, subresources.binding(api, ns, name, json.loads(body or b"{}")))
        if sub == "eviction" and method == "POST":
            return self._send(201, subresources.eviction(api, ns, name, json.loads(body or b"{}")))
        if sub not in ("", "status", "finalize"):
            raise NOT_FOUND
        if method == "GET" and name:
            return self._send(200, api.get(res, ns, name))
        if method == "GET" and query.get("watch") in ("true", "1"):
            return self._watch(api, res, ns, query)
        if method == "GET":
            listing = api.list(res, ns or None, query)
            return self._send(200, tables.maybe_table(res, listing, self.headers.get("Accept") or ""))
        if method == "POST" and not name:
            return self._send(201, api.create(res, ns, json.loads(body or b"{}"), manager=manager))
        if method == "PUT" and name:
            return self._send(200, api.replace(res, ns, name, json.loads(body or b"{}"), manager=manager,
                                               subresource="status" if sub == "status" else ""))
        if method == "PATCH" and name:
            force = query.get("force") in ("true", "1")
            apply = ctype.startswith("application/apply-patch")
            existed = api.store.find(res, ns, name) is not None
            out = api.patch(res, ns, name, body, content_type=ctype, force=force, subresource=sub,
                            manager=query.get("fieldManager", "") if apply else manager)
            return self._send(201 if apply and not existed else 200, out)
        if method == "DELETE" and name:
            options = json.loads(body or b"{}")
            return self._send(200, api.delete(res, ns, name, _delete_options(options, query)))
        if method == "DELETE":
            options = _delete_options(json.loads(body or b"{}"), query)
            return self._send(200, api.delete_collection(res, ns or None, query, options))
        raise errors.ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested "
                              "resource")

    def _watch(self, api: Api, res, ns: str, query: dict) -> None:
        """Chunked JSON lines of {type, object}; label/field selector transitions become ADDED/DELETED."""
        labels, fields = parse_labels(query.get("labelSelector")), parse_fields(query.get("fieldSelector"))
        match = lambda o: o is not None and labels(o["metadata"].get("labels")) and fields(o)  # noqa: E731
        deadline = time.monotonic() + float(query.get("timeoutSeconds") or 1800)
        store = api.store
        with store.lock:
            start = query.get("resourceVersion") or ""
            pending = []
            if start in ("", "0") or query.get("sendInitialEvents") == "true":
                pending = [("ADDED", from_storage(res, o)) for o in store.list(res, ns or None) if match(o)]
                last = store.rv
                if query.get("sendInitialEvents") == "true":  # watch-list: a bookmark ends the initial state
                    pending.append(("BOOKMARK", {"kind": res.kind, "apiVersion": res.api_version, "metadata": {
                        "resourceVersion": str(last), "annotations": {"k8s.io/initial-events-end": "true"}}}))
            else:
                last = int(start)
                if store.log and store.log[0].rv > last + 1 and last < store.rv:
                    pending = [("ERROR", errors.ApiError(410, "Expired", f"too old resource version: {last} "
                                                         f"({store.log[0].rv - 1})").status())]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        while True:
            for typ, obj in pending:
                self._chunk(json.dumps({"type": typ, "object": obj}).encode() + b"\n")
            if any(t == "ERROR" for t, _ in pending):
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.server.stopping.is_set():
                break
            with store.changed:
                news = [e for e in reversed(store.log) if e.rv > last][::-1] if store.log else []
                if not news:
                    store.changed.wait(timeout=min(remaining, 0.5))
                    news = [e for e in reversed(store.log) if e.rv > last][::-1] if store.log else []
            pending = []
            for ev in news:
                last = ev.rv
                if ev.key != res.key or (ns and ev.namespace != ns):
                    continue
                was_in = ev.prev is not None and match(ev.prev)
                now_in = ev.type != "DELETED" and match(ev.obj)
                if now_in or was_in:
                    typ = "MODIFIED" if now_in and was_in else "ADDED" if now_in else "DELETED"
                    pending.append((typ, from_storage(res, ev.obj)))
        self._chunk(b"")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


def _split(api: Api, gv: str, rest: list[str]) -> tuple[str, str, str, str]:
    """-> (namespace, plural, name, subresource) for /namespaces/ns/plural/name/sub and cluster paths."""
    if rest[0] == "namespaces" and len(rest) >= 3 and api.res(gv, rest[2]) is not None:
        rest = rest + [""] * (5 - len(rest))
        return rest[1], rest[2], rest[3], rest[4]
    rest = rest + [""] * (3 - len(rest))
    return "", rest[0], rest[1], rest[2]


def serve(api: Api, host: str = "127.0.0.1", port: int = 0) -> SandboxServer:
    return SandboxServer((host, port), api)


def _delete_options(options: dict, query: dict) -> dict:
    """DeleteOptions come in the body or as query parameters (the official client sends both ways)."""
    options.setdefault("propagationPolicy", query.get("propagationPolicy"))
    if options.get("gracePeriodSeconds") is None and query.get("gracePeriodSeconds") not in (None, ""):
        try:
            options["gracePeriodSeconds"] = int(query["gracePeriodSeconds"])
        except ValueError:
            raise errors.bad_request(f"invalid gracePeriodSeconds: {query['gracePeriodSeconds']!r}") from None
    return options
