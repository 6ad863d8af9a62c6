"""A small client for the Confluent Schema Registry REST API.

Speaks the documented endpoints the codec needs: register a schema under a subject
(``POST /subjects/{subject}/versions``), fetch a schema by id
(``GET /schemas/ids/{id}``) and list subjects. Answers are cached: a schema id never
changes meaning, and registering the same schema twice returns the same id. Works with
any compatible server (Confluent, Apicurio's ccompat API, Karapace, Redpanda).

Uses the standard library's HTTP client, so it adds no dependency. Credentials are sent
as HTTP basic auth and never appear in errors, logs or ``repr``.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from .exceptions import RegistryError, RegistryRequestError

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class SchemaRegistryClient:
    """Confluent-compatible schema registry client with caching.

    :param url: base URL, e.g. ``http://localhost:8081`` (no credentials in it).
    :param username: basic-auth user, if the registry needs one.
    :param password: basic-auth password; kept out of every message.
    :param timeout: seconds per HTTP request.
    """

    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
    ):
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise RegistryRequestError(
                f"schema registry URL must be http(s)://host[:port], got {redact_url(url)}",
                status=0,
            )
        if parsed.username or parsed.password:
            raise RegistryRequestError(
                "put schema registry credentials in the username/password settings, not in the URL",
                status=0,
            )
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._auth = None
        if username is not None:
            token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            self._auth = f"Basic {token}"
        self._ids: dict[tuple[str, str], int] = {}
        self._schemas: dict[int, str] = {}

    def __repr__(self) -> str:
        return f"SchemaRegistryClient({self.url!r})"

    def register(self, subject: str, schema: str) -> int:
        """Register ``schema`` (Avro JSON text) under ``subject``; return its global id."""
        key = (subject, schema)
        if key not in self._ids:
            path = f"/subjects/{urllib.parse.quote(subject, safe='')}/versions"
            answer = self._request("POST", path, {"schema": schema, "schemaType": "AVRO"})
            schema_id = _int_field(answer, "id", path)
            self._ids[key] = schema_id
            self._schemas.setdefault(schema_id, schema)
        return self._ids[key]

    def schema_by_id(self, schema_id: int) -> str:
        """The schema text registered with id ``schema_id``."""
        if schema_id not in self._schemas:
            path = f"/schemas/ids/{int(schema_id)}"
            answer = self._request("GET", path)
            schema_type = answer.get("schemaType", "AVRO") if isinstance(answer, dict) else None
            if schema_type != "AVRO" or not isinstance(answer.get("schema"), str):
                raise RegistryRequestError(
                    f"schema id {schema_id} is not an Avro schema ({schema_type})", status=200
                )
            self._schemas[schema_id] = answer["schema"]
        return self._schemas[schema_id]

    def subjects(self) -> list[str]:
        """All subject names in the registry."""
        answer = self._request("GET", "/subjects")
        if not isinstance(answer, list):
            raise RegistryError("registry answered /subjects with something other than a list")
        return [str(s) for s in answer]

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Accept", CONTENT_TYPE)
        if data is not None:
            request.add_header("Content-Type", CONTENT_TYPE)
        if self._auth:
            request.add_header("Authorization", self._auth)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise _http_error(method, path, exc) from None
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RegistryError(f"schema registry {self.url} unreachable: {reason}") from None
        try:
            return json.loads(raw)
        except ValueError:
            raise RegistryError(f"schema registry answered {method} {path} with non-JSON") from None


def _http_error(method: str, path: str, exc: urllib.error.HTTPError) -> Exception:
    try:
        payload = json.loads(exc.read() or b"{}")
    except ValueError:
        payload = {}
    code = payload.get("error_code") if isinstance(payload, dict) else None
    message = payload.get("message") if isinstance(payload, dict) else None
    text = f"schema registry: {method} {path} -> HTTP {exc.code}"
    if code is not None:
        text += f" (error {code})"
    if message:
        text += f": {message}"
    if exc.code >= 500 or exc.code == 429:
        return RegistryError(text)
    return RegistryRequestError(text, status=exc.code, error_code=code)


def _int_field(answer: Any, name: str, path: str) -> int:
    if not isinstance(answer, dict) or not isinstance(answer.get(name), int):
        raise RegistryError(f"schema registry answer to {path} has no integer {name!r}")
    return answer[name]


#: Query parameters of a URL or DSN that carry credentials.
_SECRET_PARAMS = ("password", "passwd", "secret", "token", "access_key", "api_key")


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, safe to print or log.

    Covers the password of ``user:password@`` and query parameters that carry credentials
    (``?password=``, ``?access_token=``...); everything else (host, path) stays readable.
    """
    parts = urllib.parse.urlsplit(url)
    redacted = parts
    if parts.password:
        redacted = redacted._replace(
            netloc=parts.netloc.replace(f":{parts.password}@", ":***@"))
    if parts.query:
        redacted = redacted._replace(query="&".join(
            f"{k}=***" if any(s in k.lower() for s in _SECRET_PARAMS) else
            (f"{k}={v}" if sep else k)
            for k, sep, v in (item.partition("=") for item in parts.query.split("&"))))
    return url if redacted == parts else urllib.parse.urlunsplit(redacted)
