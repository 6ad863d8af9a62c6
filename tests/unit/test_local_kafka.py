"""The local broker's helpers that need no broker."""

import base64
import uuid

from tests.conftest import local_kafka


def test_cluster_id_is_16_bytes_in_url_safe_base64():
    for _ in range(500):
        cluster_id = local_kafka.new_cluster_id()
        assert len(cluster_id) == 22
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16
        assert not cluster_id.startswith("-")


def test_cluster_id_starting_with_a_dash_is_drawn_again(monkeypatch):
    # 0xF8 encodes to '-' as the first URL-safe base64 character: the storage tool
    # would read such an id as an option and fail with "expected one argument".
    dash = uuid.UUID(bytes=b"\xf8" + bytes(15))
    plain = uuid.UUID(bytes=b"\x10" + bytes(15))
    draws = iter([dash, dash, plain])
    monkeypatch.setattr(local_kafka.uuid, "uuid4", lambda: next(draws))
    assert base64.urlsafe_b64encode(dash.bytes).startswith(b"-")
    assert local_kafka.new_cluster_id() == base64.urlsafe_b64encode(plain.bytes).decode()[:22]


def test_free_ports_are_distinct():
    ports = local_kafka.free_ports(50)
    assert len(set(ports)) == 50


def test_broker_and_controller_never_share_a_port(tmp_path):
    # Seen in a run: two free ports asked one at a time came back equal, and the storage
    # tool refused "two listeners on the same port".
    for n in range(20):
        given = local_kafka.free_port() if n % 2 else None
        broker = local_kafka.LocalKafka(data_dir=tmp_path / str(n), port=given)
        assert broker.port != broker.controller_port
        if given:
            assert broker.port == given
