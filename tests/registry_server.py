"""A schema registry for the tests that answers as the Confluent REST API docs say.

No Confluent-compatible registry can be run from the package registries these machines
reach (see README, "Schema registry"), so the codec's registry client is tested against
this server. Its requests and answers follow the Confluent Schema Registry API reference:

- ``POST /subjects/{subject}/versions`` body ``{"schema": "..."}`` -> ``{"id": 1}``;
  the same schema registered again (under any subject) gets the same global id.
- ``GET /schemas/ids/{id}`` -> ``{"schema": "..."}``; unknown id -> 404
  ``{"error_code": 40403, "message": "Schema 7 not found"}``.
- ``GET /subjects`` -> ``["subject-a", ...]``.
- An invalid schema -> 422 ``{"error_code": 42201, "message": "Invalid schema"}``.
- Bad credentials (when set) -> 401 ``{"error_code": 401, "message": "Unauthorized"}``.
"""

from __future__ import annotations

import base64
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class DocsRegistry:
    def __init__(self, username: str | None = None, password: str | None = None):
        self.ids: dict[str, int] = {}
        self.schemas: dict[int, str] = {}
        self.subjects: dict[str, list[int]] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.fail_next: int | None = None
        self.auth = None
        if username is not None:
            self.auth = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def _answer(self, status: int, payload) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", CONTENT_TYPE)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _guard(self) -> bool:
                registry.requests.append((self.command, self.path, dict(self.headers)))
                if registry.fail_next is not None:
                    status, registry.fail_next = registry.fail_next, None
                    self._answer(
                        status, {"error_code": status * 100 + 1, "message": "Internal Server Error"}
                    )
                    return False
                if registry.auth and self.headers.get("Authorization") != registry.auth:
                    self._answer(401, {"error_code": 401, "message": "Unauthorized"})
                    return False
                return True

            def do_GET(self):  # noqa: N802
                if not self._guard():
                    return
                parts = self.path.strip("/").split("/")
                if parts == ["subjects"]:
                    self._answer(200, sorted(registry.subjects))
                elif len(parts) == 3 and parts[:2] == ["schemas", "ids"] and parts[2].isdigit():
                    schema_id = int(parts[2])
                    if schema_id in registry.schemas:
                        self._answer(200, {"schema": registry.schemas[schema_id]})
                    else:
                        self._answer(
                            404, {"error_code": 40403, "message": f"Schema {schema_id} not found"}
                        )
                else:
                    self._answer(404, {"error_code": 404, "message": "HTTP 404 Not Found"})

            def do_POST(self):  # noqa: N802
                if not self._guard():
                    return
                parts = self.path.strip("/").split("/")
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                    schema = body["schema"]
                    json.loads(schema)
                except (ValueError, KeyError, TypeError):
                    self._answer(422, {"error_code": 42201, "message": "Invalid schema"})
                    return
                if len(parts) != 3 or parts[0] != "subjects" or parts[2] != "versions":
                    self._answer(404, {"error_code": 404, "message": "HTTP 404 Not Found"})
                    return
                subject = urllib.parse.unquote(parts[1])
                if schema not in registry.ids:
                    registry.ids[schema] = len(registry.ids) + 1
                    registry.schemas[registry.ids[schema]] = schema
                schema_id = registry.ids[schema]
                versions = registry.subjects.setdefault(subject, [])
                if schema_id not in versions:
                    versions.append(schema_id)
                self._answer(200, {"id": schema_id})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> DocsRegistry:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
