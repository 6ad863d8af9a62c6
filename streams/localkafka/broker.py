#!/usr/bin/env python3
"""Start and stop a single-node KRaft Apache Kafka broker for development and tests.

The broker runs from the official Apache Kafka jars, which Maven fetches from Maven
Central into ~/.m2 (see pom.xml beside this file, shipped as package data; Maven runs on a
copy in the user's cache folder, so an installed, read-only package works too). It listens
on a free loopback port and keeps its data in a temporary folder that ``stop`` removes.

    python3 deploy/kafka/local_kafka.py start     # prints the bootstrap address
    python3 deploy/kafka/local_kafka.py stop
    python3 deploy/kafka/local_kafka.py status
    python3 deploy/kafka/local_kafka.py restart --down 10  # same log folder and ports

Only the standard library is used, so this runs before the project is installed. The
tests import it (tests/conftest.py) and use :class:`LocalKafka` as a context manager.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
POM = HERE / "pom.xml"
LOG_CONFIG = HERE / "log4j2.properties"
STATE_FILE = Path(tempfile.gettempdir()) / "coselling-local-kafka.json"


class LocalKafkaError(RuntimeError):
    """The broker could not be set up, started or stopped; the message says why."""


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "coselling"


def classpath(*, quiet: bool = True) -> str:
    """The broker's Java classpath, resolved by Maven (downloads on first use, then cached)."""
    cache = _cache_dir() / f"kafka-classpath-{_pom_stamp()}.txt"
    if cache.is_file():
        cp = cache.read_text().strip()
        if cp and all(Path(p).is_file() for p in cp.split(os.pathsep)):
            return cp
    mvn = shutil.which("mvn")
    if not mvn:
        raise LocalKafkaError("Maven (mvn) is not on PATH; install it to fetch the Kafka jars")
    cache.parent.mkdir(parents=True, exist_ok=True)
    # Maven may write beside its pom (target/); the installed package can be read-only.
    work = cache.parent / f"kafka-pom-{_pom_stamp()}"
    work.mkdir(exist_ok=True)
    shutil.copyfile(POM, work / "pom.xml")
    command = [
        mvn,
        "-B",
        "--no-transfer-progress",
        "-f",
        str(work / "pom.xml"),
        "dependency:build-classpath",
        f"-Dmdep.outputFile={cache}",
    ]
    if quiet:
        command.insert(1, "-q")
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0 or not cache.is_file():
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise LocalKafkaError(f"Maven could not resolve the Kafka jars:\n{tail}")
    return cache.read_text().strip()


def _pom_stamp() -> str:
    import hashlib

    return hashlib.sha256(POM.read_bytes()).hexdigest()[:12]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` different TCP ports on 127.0.0.1 that are free right now.

    Every socket stays bound until all are chosen: asked one at a time, the system may
    hand out the same port twice (a broker then got one port for both its listeners).
    """
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    java = shutil.which("java")
    if not java:
        raise LocalKafkaError("Java is not on PATH; Kafka 4 needs Java 17 or newer")
    return java


class LocalKafka:
    """A single-node KRaft broker (broker and controller in one JVM) on loopback.

    :param data_dir: folder for config, logs and data; a new temporary folder by default
        (removed by :meth:`stop`). A folder a broker ran in before is started again on its
        existing log (same ports, no new format): see :meth:`restart`.
    :param port: broker port; the folder's earlier one, else a free one, by default.
    :param heap: JVM heap size.
    """

    def __init__(self, data_dir: Path | None = None, port: int | None = None, heap: str = "512m"):
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="coselling-kafka-"))
        earlier = _ports_of(self.data_dir / "server.properties")
        spare = [p for p in free_ports(3) if p != port]  # never the broker's own port
        self.port = port or earlier.get("port") or spare[0]
        self.controller_port = earlier.get("controller_port") or spare[1]
        self.heap = heap
        self.process: subprocess.Popen | None = None

    @property
    def bootstrap_servers(self) -> str:
        """``127.0.0.1:<port>``."""
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        """The broker's console log."""
        return self.data_dir / "kafka.log"

    def _write_config(self) -> Path:
        config = self.data_dir / "server.properties"
        config.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},"
                    f"CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    f"log.dirs={self.data_dir / 'data'}",
                    "num.partitions=1",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=8",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=true",
                    "log.flush.interval.messages=9223372036854775807",
                    "",
                ]
            )
        )
        return config

    @property
    def formatted(self) -> bool:
        """Whether the log folder holds a formatted (maybe used) KRaft storage."""
        return (self.data_dir / "data" / "meta.properties").is_file()

    def start(self, timeout: float = 90.0) -> LocalKafka:
        """Format the storage (unless already formatted), launch the JVM, wait until ready."""
        cp = classpath()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self._write_config()
        java = _java()
        base = [
            java,
            f"-Xmx{self.heap}",
            f"-Xms{self.heap}",
            "-XX:+UseG1GC",
            f"-Dlog4j2.configurationFile={LOG_CONFIG}",
            "-cp",
            cp,
        ]
        if not self.formatted:
            fmt = subprocess.run(
                base + ["kafka.tools.StorageTool", "format", "-t", new_cluster_id(), "-c",
                        str(config)],
                capture_output=True,
                text=True,
            )
            if fmt.returncode != 0:
                raise LocalKafkaError(f"kafka storage format failed:\n{fmt.stdout}{fmt.stderr}")
        log = self.log_file.open("ab")
        self.process = subprocess.Popen(
            base + ["kafka.Kafka", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LocalKafkaError(
                    f"Kafka exited with code {self.process.returncode}; last log lines:\n"
                    + self._log_tail()
                )
            if _broker_ready(self.port):
                return self
            time.sleep(0.25)
        self.stop()
        raise LocalKafkaError(f"Kafka did not become ready in {timeout:.0f}s:\n{self._log_tail()}")

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 30.0, *, keep_data: bool = False) -> None:
        """Stop the broker (SIGTERM, then SIGKILL); remove a temporary folder unless told not to.

        :param keep_data: keep the folder, to start again on it (:meth:`restart`).
        """
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._own_dir and not keep_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def restart(self, down_seconds: float = 0.0, timeout: float = 90.0) -> LocalKafka:
        """Stop the broker, stay down ``down_seconds``, start it on the same folder and ports.

        What it held (topics, messages, committed offsets) is there again.
        """
        self.stop(keep_data=True)
        time.sleep(down_seconds)
        return self.start(timeout)

    def __enter__(self) -> LocalKafka:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _ports_of(config: Path) -> dict[str, int]:
    """Broker and controller port of an earlier run's server.properties (empty if none)."""
    try:
        lines = config.read_text().splitlines()
    except OSError:
        return {}
    found: dict[str, int] = {}
    for line in lines:
        key, _, value = line.partition("=")
        if key == "listeners":
            for listener in value.split(","):
                name, _, address = listener.partition("://")
                port = int(address.rpartition(":")[2])
                found["port" if name == "PLAINTEXT" else "controller_port"] = port
    return found


def new_cluster_id() -> str:
    """A random KRaft cluster id: 16 bytes, URL-safe base64 without padding.

    One that starts with '-' is drawn again (1 in 64 would), as Kafka itself does: the
    storage tool's argument parser would take it for an option.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _broker_ready(port: int) -> bool:
    """True when the broker answers a Metadata request with itself as a live broker."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.settimeout(5)
            # MetadataRequest v1 (api key 3) with an empty topic array: a broker that is up
            # answers with its broker list; one still starting closes or does not answer.
            client = b"ready-check"
            body = struct.pack(">hhih", 3, 1, 1, len(client)) + client + struct.pack(">i", 0)
            s.sendall(struct.pack(">i", len(body)) + body)
            size = struct.unpack(">i", _recv(s, 4))[0]
            payload = _recv(s, size)
            brokers = struct.unpack(">i", payload[4:8])[0]
            return brokers >= 1
    except (OSError, struct.error):
        return False


def _recv(s: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise OSError("connection closed")
        data += chunk
    return data


def main(argv: list[str] | None = None) -> int:
    """The command line: start, stop, status or classpath (see the module doc)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["start", "stop", "restart", "status", "classpath"])
    parser.add_argument("--port", type=int, help="broker port (default: a free one)")
    parser.add_argument("--down", type=float, default=0.0, metavar="SECONDS",
                        help="restart: stay down this long before starting again")
    args = parser.parse_args(argv)
    if args.action == "classpath":
        print(classpath(quiet=False))
        return 0
    state = json.loads(STATE_FILE.read_text()) if STATE_FILE.is_file() else None
    if args.action == "status":
        if state and _pid_alive(state["pid"]) and _broker_ready(state["port"]):
            print(f"running: pid {state['pid']}, bootstrap 127.0.0.1:{state['port']}")
            return 0
        print("not running")
        return 1
    if args.action == "stop":
        if not state:
            print("not running")
            return 0
        _terminate(state["pid"])
        shutil.rmtree(state["data_dir"], ignore_errors=True)
        STATE_FILE.unlink(missing_ok=True)
        print("stopped")
        return 0
    if args.action == "restart":
        if not state:
            print("not running: nothing to restart (start one first)", file=sys.stderr)
            return 1
        _terminate(state["pid"])
        time.sleep(args.down)
    elif state and _pid_alive(state["pid"]):
        print(f"already running: bootstrap 127.0.0.1:{state['port']} (pid {state['pid']})")
        return 0
    try:
        if args.action == "restart":  # same log folder and ports: its data is there again
            kafka = LocalKafka(data_dir=Path(state["data_dir"])).start()
        else:
            kafka = LocalKafka(port=args.port).start()
    except LocalKafkaError as exc:
        print(f"local_kafka: {exc}", file=sys.stderr)
        return 1
    assert kafka.process is not None
    STATE_FILE.write_text(
        json.dumps({"pid": kafka.process.pid, "port": kafka.port, "data_dir": str(kafka.data_dir)})
    )
    print(
        f"Kafka running: bootstrap {kafka.bootstrap_servers} (pid {kafka.process.pid}, "
        f"data in {kafka.data_dir})"
    )
    print(f"export COSELLING_KAFKA_BOOTSTRAP_SERVERS={kafka.bootstrap_servers}")
    return 0


def _terminate(pid: int) -> None:
    """SIGTERM the broker's process group, SIGKILL it after 30 s."""
    if not _pid_alive(pid):
        return
    os.killpg(pid, signal.SIGTERM)
    for _ in range(120):
        if not _pid_alive(pid):
            return
        time.sleep(0.25)
    os.killpg(pid, signal.SIGKILL)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


if __name__ == "__main__":
    sys.exit(main())
