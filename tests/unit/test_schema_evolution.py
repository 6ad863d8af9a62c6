"""Every schema must stay backward compatible: the current version reads all earlier data.

Earlier versions come from git history (every committed version of each .avsc file) and
from schemas/avro/archive/. The Apache ``avro`` package's checker decides.
"""

import json
import shutil
import subprocess

import pytest

from schemas.catalog import EVENT_TYPES, SCHEMA_DIR, default_catalog
from schemas.compat import backward_incompatibilities, check_backward_compatible
from schemas.exceptions import SchemaCompatibilityError

ROOT = SCHEMA_DIR.parent.parent


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], check=True, capture_output=True, text=True
    ).stdout


def _history(path) -> list[tuple[str, str]]:
    """(commit, text) of every committed version of ``path``, newest first."""
    if not shutil.which("git") or not (ROOT / ".git").exists():
        pytest.fail("schema history needs a git checkout of the repository")
    if _git("rev-parse", "--is-shallow-repository").strip() == "true":
        pytest.fail("shallow clone: fetch full history (git fetch --unshallow) to check schemas")
    rel = path.relative_to(ROOT).as_posix()
    commits = _git("log", "--format=%H", "--", rel).split()
    versions = []
    for commit in commits:
        try:
            versions.append((commit[:10], _git("show", f"{commit}:{rel}")))
        except subprocess.CalledProcessError:  # deleted in that commit
            continue
    return versions


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_current_schema_reads_every_earlier_version_in_git(event_type):
    path = SCHEMA_DIR / f"{event_type}.avsc"
    current = path.read_text()
    for commit, old in _history(path):
        problems = backward_incompatibilities(current, old)
        assert not problems, f"{path.name} cannot read data written at {commit}: {problems}"


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_current_schema_reads_archived_versions(event_type):
    current = default_catalog().current(event_type)
    for version in default_catalog().versions():
        if version.event_type == event_type:
            check_backward_compatible(current.source, version.source, name=event_type)


def test_checker_rejects_breaking_changes():
    base = json.loads((SCHEMA_DIR / "opportunity.avsc").read_text())

    def changed(mutate):
        schema = json.loads(json.dumps(base))
        mutate(schema["fields"])
        return schema

    def add_required(fields):
        fields.append({"name": "owner", "type": "string"})

    def narrow_type(fields):
        next(f for f in fields if f["name"] == "version")["type"] = "int"

    def drop_enum_symbol(fields):
        next(f for f in fields if f["name"] == "op")["type"]["symbols"] = ["UPSERT"]

    for mutate in (add_required, narrow_type, drop_enum_symbol):
        with pytest.raises(SchemaCompatibilityError, match="opportunity: new version cannot"):
            check_backward_compatible(changed(mutate), base, name="opportunity")

    def add_optional(fields):
        fields.append({"name": "owner", "type": ["null", "string"], "default": None})

    def drop_field(fields):
        fields[:] = [f for f in fields if f["name"] != "stage"]

    for mutate in (add_optional, drop_field):
        check_backward_compatible(changed(mutate), base, name="opportunity")
