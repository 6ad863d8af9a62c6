"""Every SQL example and every demo command of the README, run as written on the demo.

The demo database is built by ``coselling demo`` itself (default size and seed, in a
fresh folder named as the README names it), so a README example that names a tenant,
record or column the demo does not have fails here.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from sinks.clickhouse import ClickHouseWriter
from streams.cli import main

README = Path(__file__).resolve().parents[2] / "README.md"
DEMO_DIR = "coselling-demo"


def code_blocks(text: str) -> list[str]:
    """The README's indented code blocks, dedented."""
    blocks, current, previous_blank = [], [], True
    for line in text.splitlines():
        if line.startswith("    ") and (current or previous_blank):
            current.append(line[4:])
        elif current and not line.strip():
            current.append("")
        else:
            if current:
                blocks.append("\n".join(current).strip())
            current = []
        previous_blank = not line.strip()
    if current:
        blocks.append("\n".join(current).strip())
    return blocks


def sql_examples() -> list[str]:
    """Blocks that are a SQL statement, and the SQL fed to the chDB one-liner."""
    found = []
    for block in code_blocks(README.read_text(encoding="utf-8")):
        if re.match(r"(SELECT|WITH)\b", block):
            found.append(block)
        elif "<<'SQL'" in block:
            found.append(block.split("<<'SQL'", 1)[1].rsplit("SQL", 1)[0].strip())
    return found


def demo_commands() -> list[list[str]]:
    """``.venv/bin/coselling`` commands of the README that work on the demo's folder."""
    text = README.read_text(encoding="utf-8")
    found = re.findall(r"\.venv/bin/coselling ([^`\n]*coselling-demo[^`\n#]*)", text)
    return [shlex.split(c) for c in found]


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory):
    """A folder holding ``coselling-demo/`` as ``coselling demo`` leaves it."""
    root = tmp_path_factory.mktemp("newcomer")
    saved_cwd = os.getcwd()
    saved_env = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("COSELLING_")}
    os.chdir(root)
    try:
        assert main(["demo", "--out", DEMO_DIR]) == 0
        yield root
    finally:
        os.chdir(saved_cwd)
        os.environ.update(saved_env)


def test_the_readme_has_its_sql_examples():
    examples = sql_examples()
    assert len(examples) >= 6
    assert all(e.rstrip().endswith(";") for e in examples)


@pytest.mark.parametrize("sql", sql_examples(), ids=lambda s: " ".join(s.split())[:60])
def test_every_readme_sql_example_returns_rows_on_the_demo(demo_folder, sql):
    writer = ClickHouseWriter(f"chdb://{demo_folder / DEMO_DIR / 'chdb'}", create=False)
    try:
        rows = writer.query(sql.rstrip().rstrip(";"))
    finally:
        writer.close()
    assert rows, f"no rows on the demo database:\n{sql}"
    assert not any(v != v for row in rows for v in row if isinstance(v, float)), "nan in rows"


def test_the_readme_chdb_one_liner_runs_as_written(demo_folder):
    block = next(b for b in code_blocks(README.read_text(encoding="utf-8")) if "<<'SQL'" in b)
    assert block.startswith(".venv/bin/python ")
    script = block.replace(".venv/bin/python", shlex.quote(sys.executable), 1)
    done = subprocess.run(["bash", "-c", script], cwd=demo_folder, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "northwind" in done.stdout and "overlapping_accounts" in done.stdout


def test_the_readme_commands_on_the_demo_folder_work_as_written(demo_folder, monkeypatch,
                                                                 capsys):
    monkeypatch.chdir(demo_folder)
    commands = demo_commands()
    assert {c[0] for c in commands} >= {"report", "replay"}
    for argv in commands:
        assert main(argv) == 0, argv
    output = capsys.readouterr().out
    assert "Partner overlap matrix" in output and "events replayed" in output


def test_no_none_or_nan_in_what_the_commands_print_on_the_demo(demo_folder, monkeypatch,
                                                               capsys, tmp_path):
    monkeypatch.chdir(demo_folder)
    dsn = f"chdb://./{DEMO_DIR}/chdb"
    html = tmp_path / "northwind.html"
    for argv in (["report", "--clickhouse", dsn, "--html", str(html), "--tenant", "northwind"],
                 ["report", "--clickhouse", dsn, "--html", str(tmp_path / "all.html"),
                  "--model", "time_decay", "--top", "40"],
                 ["settings"], ["migrate", "--clickhouse", dsn],
                 ["publish", f"{DEMO_DIR}/demo-events.jsonl", "--dry-run"],
                 ["roundtrip", f"{DEMO_DIR}/demo-events.jsonl"]):
        assert main(argv) == 0, argv
    captured = capsys.readouterr()
    printed = captured.out + captured.err
    pages = html.read_text(encoding="utf-8") + (tmp_path / "all.html").read_text(encoding="utf-8")
    assert "Top 40 intro opportunities" in printed and "Settings" in printed
    for text in (printed, pages):
        assert not re.search(r"\bNone\b", text)
        assert not re.search(r"\bnan\b", text, re.IGNORECASE)


def test_the_readme_replay_in_pieces_example_runs_as_written(demo_folder):
    """The pieces of the demo's events, replayed one after the other, hold what one replay
    of the whole file holds."""
    block = next(b for b in code_blocks(README.read_text(encoding="utf-8"))
                 if "part-1.jsonl" in b and b.startswith("head "))
    coselling = f"{shlex.quote(sys.executable)} -m streams.cli"
    script = block.replace(".venv/bin/coselling", coselling)
    env = {k: v for k, v in os.environ.items() if not k.startswith("COSELLING_")}
    pieces = subprocess.run(["bash", "-ec", script], cwd=demo_folder, capture_output=True,
                            text=True, timeout=600, env=env)
    assert pieces.returncode == 0, pieces.stderr
    assert "fresh:" in pieces.stdout and "continue:" in pieces.stdout
    whole = subprocess.run(
        ["bash", "-ec", f"{coselling} replay {DEMO_DIR}/demo-events.jsonl "
                        "--clickhouse chdb://./whole"],
        cwd=demo_folder, capture_output=True, text=True, timeout=600, env=env)
    assert whole.returncode == 0, whole.stderr

    def holds(out: str) -> str:
        return [line for line in out.splitlines() if "the database now holds" in line][-1]

    assert holds(pieces.stdout) == holds(whole.stdout)
