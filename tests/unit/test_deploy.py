"""deploy/: every YAML file parses, and the manifests use only commands, flags, settings
and web pages that exist."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from streams.app import create_app
from streams.cli import build_parser
from streams.settings import Settings
from tests.unit.test_packaging import source_files

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
YAML_FILES = sorted([*DEPLOY.rglob("*.yml"), *DEPLOY.rglob("*.yaml")])
SETTING_VARIABLES = {f"COSELLING_{name.upper()}" for name in Settings.model_fields}


def documents(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def k8s_objects() -> list[dict]:
    return [d for p in sorted((DEPLOY / "k8s").glob("*.yaml")) for d in documents(p)]


def containers(objects: list[dict]) -> list[dict]:
    found = []
    for obj in objects:
        spec = obj.get("spec", {})
        pod = spec.get("template", {}).get("spec", {})
        found.extend(pod.get("containers", []))
    return found


def assert_valid_command(argv: list[str]) -> None:
    try:
        build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse's way of saying no
        pytest.fail(f"`coselling {' '.join(argv)}` is not a valid command ({exc})")


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_yaml_file_parses(path):
    assert documents(path), f"{path} holds no document"


def test_there_are_compose_and_kubernetes_manifests():
    names = {str(p.relative_to(DEPLOY)) for p in YAML_FILES}
    assert "docker-compose.yml" in names
    kinds = {o["kind"] for o in k8s_objects()}
    assert {"StatefulSet", "Deployment", "Secret", "ConfigMap", "Job", "Service"} <= kinds


def test_compose_services_run_existing_commands_with_existing_settings():
    compose = documents(DEPLOY / "docker-compose.yml")[0]
    ours = {name: s for name, s in compose["services"].items()
            if s.get("image", "").startswith("coselling")}
    assert {"init", "worker", "sink"} <= set(ours)
    for name, service in ours.items():
        if "command" in service:
            assert_valid_command(service["command"])
        for variable in service.get("environment", {}):
            assert variable in SETTING_VARIABLES, f"{name}: unknown setting {variable}"
    assert "kafka" in compose["services"] and "clickhouse" in compose["services"]
    assert compose["services"]["schema-registry"]["profiles"] == ["registry"]


def test_kubernetes_manifests_use_existing_commands_settings_and_probe_pages():
    objects = k8s_objects()
    variables = set()
    for obj in objects:
        if obj["kind"] == "ConfigMap":
            variables |= set(obj["data"])
        if obj["kind"] == "Secret":
            variables |= set(obj["stringData"])
    unknown = variables - SETTING_VARIABLES
    assert not unknown, f"manifests set unknown settings {sorted(unknown)}"
    pages = set(create_app(Settings(store="memory")).web.views)
    config = next(o for o in objects if o["kind"] == "ConfigMap")["data"]
    for container in containers(objects):
        assert_valid_command(container["args"])
        sources = {ref[k]["name"] for ref in container["envFrom"] for k in ref}
        assert sources == {"coselling-config", "coselling-clickhouse"}
        assert container["resources"]["requests"], "resource requests are required"
        ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
        for probe in ("readinessProbe", "livenessProbe"):
            if probe not in container:
                continue
            get = container[probe]["httpGet"]
            assert get["port"] in ports
            if container["args"][0] == "worker":
                assert get["path"] in pages, f"the worker serves no {get['path']}"
                assert str(ports[get["port"]]) == config["COSELLING_WEB_PORT"]
    worker = next(o for o in objects if o["kind"] == "StatefulSet")
    mount = worker["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]
    assert mount["mountPath"] == config["COSELLING_DATA_DIR"]
    assert worker["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == mount["name"]
    assert {"readinessProbe", "livenessProbe"} <= set(
        worker["spec"]["template"]["spec"]["containers"][0])


def dockerfile_stages() -> list[list[list[str]]]:
    """The Dockerfile's stages, each a list of instructions split into words."""
    stages: list[list[list[str]]] = []
    text = (DEPLOY / "docker" / "Dockerfile").read_text(encoding="utf-8")
    for line in text.replace("\\\n", " ").splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0] == "FROM":
            stages.append([])
        stages[-1].append(words)
    return stages


def test_the_image_installs_the_wheel_built_from_the_sources(tmp_path):
    build, final = dockerfile_stages()
    assert ["ENTRYPOINT", '["coselling"]'] in final
    # The final stage gets nothing from the checkout: only the wheel of the build stage.
    copies = [w for w in final if w[0] == "COPY"]
    assert copies == [["COPY", "--from=build", "/dist", "/dist"]]
    runs = " ".join(" ".join(w) for w in final if w[0] == "RUN")
    assert "pip install --no-cache-dir /dist/coselling-*.whl" in runs
    assert " -e " not in runs and "--editable" not in runs
    # The build stage: the wheel is built from exactly what the stage copies. Build it the
    # same way here and check that it ships every file of the packages.
    context = tmp_path / "context"
    context.mkdir()
    root = DEPLOY.parent
    for words in build:
        if words[0] == "COPY":
            *sources, target = words[1:]
            for source in sources:
                src = root / source
                assert src.exists(), f"Dockerfile copies missing {source}"
                dest = context / (src.name if target.endswith("/") or target == "./"
                                  else target)
                if src.is_dir():
                    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    shutil.copy(src, dest)
    assert any(w[:3] == ["RUN", "pip", "wheel"] and w[-1] == "." for w in build)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--wheel-dir", str(tmp_path / "dist"), str(context)],
                   check=True, capture_output=True)
    (wheel,) = (tmp_path / "dist").glob("coselling-*.whl")
    with zipfile.ZipFile(wheel) as z:
        shipped = {n for n in z.namelist() if ".dist-info/" not in n}
    missing = source_files() - shipped
    assert not missing, f"the image's wheel lacks {sorted(missing)}"
