"""The registry client against a server answering as the Confluent API docs specify."""

import pytest

from schemas.exceptions import RegistryError, RegistryRequestError, RetryableError
from schemas.registry_client import CONTENT_TYPE, SchemaRegistryClient
from tests.registry_server import DocsRegistry

SCHEMA = '{"type":"record","name":"T","fields":[{"name":"a","type":"string"}]}'


def test_register_and_fetch_are_cached(registry_server):
    client = SchemaRegistryClient(registry_server.url)
    schema_id = client.register("t-value", SCHEMA)
    assert client.register("t-value", SCHEMA) == schema_id
    assert client.schema_by_id(schema_id) == SCHEMA
    assert [r[0] for r in registry_server.requests] == ["POST"]
    method, path, headers = registry_server.requests[0]
    assert path == "/subjects/t-value/versions"
    assert headers["Content-Type"] == CONTENT_TYPE
    other = SchemaRegistryClient(registry_server.url)
    assert other.schema_by_id(schema_id) == SCHEMA
    assert other.schema_by_id(schema_id) == SCHEMA
    assert [r[1] for r in registry_server.requests][1:] == [f"/schemas/ids/{schema_id}"]
    assert other.subjects() == ["t-value"]


def test_subject_names_are_url_quoted(registry_server):
    SchemaRegistryClient(registry_server.url).register("a/b c", SCHEMA)
    assert registry_server.requests[0][1] == "/subjects/a%2Fb%20c/versions"


def test_unknown_id_is_a_request_error_with_the_registry_code(registry_server):
    with pytest.raises(RegistryRequestError) as err:
        SchemaRegistryClient(registry_server.url).schema_by_id(99)
    assert err.value.status == 404 and err.value.error_code == 40403
    assert "Schema 99 not found" in str(err.value)


def test_invalid_schema_is_rejected(registry_server):
    with pytest.raises(RegistryRequestError) as err:
        SchemaRegistryClient(registry_server.url).register("s", "{not json")
    assert err.value.error_code == 42201


def test_server_errors_and_unreachable_are_retryable(registry_server):
    client = SchemaRegistryClient(registry_server.url)
    registry_server.fail_next = 503
    with pytest.raises(RegistryError, match="HTTP 503") as err:
        client.register("s", SCHEMA)
    assert isinstance(err.value, RetryableError)
    assert client.register("s", SCHEMA) == 1  # next attempt succeeds
    with DocsRegistry() as gone:
        url = gone.url
    with pytest.raises(RegistryError, match="unreachable"):
        SchemaRegistryClient(url, timeout=2).subjects()


def test_basic_auth_and_the_password_never_shows():
    with DocsRegistry(username="svc", password="s3cret-pw") as server:
        good = SchemaRegistryClient(server.url, username="svc", password="s3cret-pw")
        assert good.register("s", SCHEMA) == 1
        bad = SchemaRegistryClient(server.url, username="svc", password="wrong")
        with pytest.raises(RegistryRequestError) as err:
            bad.register("s2", SCHEMA)
        assert err.value.status == 401
        assert "s3cret-pw" not in repr(good) and "wrong" not in str(err.value)
    with pytest.raises(RegistryRequestError, match="not in the URL") as err:
        SchemaRegistryClient("http://svc:s3cret-pw@localhost:8081")
    assert "s3cret-pw" not in str(err.value)
    with pytest.raises(RegistryRequestError, match="http"):
        SchemaRegistryClient("ftp://localhost")
