"""Every SELFCARE_* setting is read in selfcare/config.py alone.

Settings scattered over modules drift (a default documented in one place and used in another, a
flag that cannot override a variable read behind its back); the rest of the product asks config.
The check is static, over the source: an environment read outside config.py whose key is a
SELFCARE_ name, or is not a plain string (so it could be one), fails it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from selfcare import config

SRC = Path(__file__).resolve().parents[2] / "src" / "selfcare"


def _env_reads(source: str) -> list[str]:
    """Where a module reads the environment in a way that is, or may be, a SELFCARE_ setting."""
    tree = ast.parse(source)
    env_names = {"environ", "getenv"}  # `from os import environ, getenv`
    imported = {
        a.asname or a.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "os"
        for a in node.names
        if a.name in env_names
    }

    def is_env(node: ast.AST) -> bool:
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "environb"):
            return True
        return isinstance(node, ast.Name) and node.id in imported and node.id != "getenv"

    def is_getenv(node: ast.AST) -> bool:
        if isinstance(node, ast.Attribute) and node.attr == "getenv":
            return True
        return isinstance(node, ast.Name) and node.id in imported and node.id == "getenv"

    def bad_key(key: ast.AST | None) -> bool:
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            return key.value.startswith("SELFCARE_")
        return True  # a computed key may be a SELFCARE_ name

    found: list[str] = []
    allowed: set[int] = set()  # environ nodes used as env.get("X"), env["X"], "X" in env
    for node in ast.walk(tree):
        where = f"line {getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Call) and is_getenv(node.func):
            if bad_key(node.args[0] if node.args else None):
                found.append(f"{where}: getenv")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and is_env(node.func.value)
        ):
            allowed.add(id(node.func.value))
            if bad_key(node.args[0] if node.args else None):
                found.append(f"{where}: environ.get")
        elif isinstance(node, ast.Subscript) and is_env(node.value):
            allowed.add(id(node.value))
            if bad_key(node.slice):
                found.append(f"{where}: environ[...]")
        elif isinstance(node, ast.Compare) and any(is_env(c) for c in node.comparators):
            allowed.update(id(c) for c in node.comparators)
            if bad_key(node.left):
                found.append(f"{where}: ... in environ")
    for node in ast.walk(tree):
        # the whole environment handed on or kept (env = os.environ; dict(os.environ)): its
        # SELFCARE_ keys can then be read anywhere
        if is_env(node) and id(node) not in allowed:
            found.append(f"line {node.lineno}: the environment itself")
    return found


@pytest.mark.parametrize(
    ("source", "flagged"),
    [
        pytest.param('import os\nos.environ.get("SELFCARE_X", "1")', True, id="environ-get"),
        pytest.param('import os\nos.environ["SELFCARE_X"]', True, id="environ-item"),
        pytest.param('import os\nos.getenv("SELFCARE_X")', True, id="getenv"),
        pytest.param('from os import environ\nenviron["SELFCARE_X"]', True, id="from-os"),
        pytest.param('from os import getenv as g\ng("SELFCARE_X")', True, id="getenv-alias"),
        pytest.param('import os\nif "SELFCARE_X" in os.environ: pass', True, id="in-environ"),
        pytest.param('import os\nK = "SELFCARE_X"\nos.environ.get(K)', True, id="computed-key"),
        pytest.param("import os\nenv = os.environ\nenv.get('X')", True, id="environ-kept"),
        pytest.param('import os\nos.environ.get("HOME")', False, id="other-variable"),
        pytest.param('"""SELFCARE_LAKE is documented here."""\nX = 1', False, id="docstring"),
        pytest.param('app.config["SELFCARE_SETTINGS"]', False, id="flask-config-key"),
    ],
)
def test_the_check_sees_environment_reads(source, flagged):
    assert bool(_env_reads(source)) is flagged


def test_only_config_reads_selfcare_settings():
    readers = {
        p.relative_to(SRC).as_posix(): found
        for p in sorted(SRC.rglob("*.py"))
        if p.name != "config.py" or p.parent != SRC
        if (found := _env_reads(p.read_text(encoding="utf-8")))
    }
    assert readers == {}
    assert _env_reads((SRC / "config.py").read_text(encoding="utf-8"))  # config does read them


@pytest.mark.parametrize(
    ("variable", "value", "read", "expected"),
    [
        pytest.param("SELFCARE_ENGINE_MEMORY", None, config.engine_memory, "600MB", id="memory"),
        pytest.param("SELFCARE_ENGINE_MEMORY", "2GB", config.engine_memory, "2GB", id="memory-set"),
        pytest.param("SELFCARE_RESULT_CACHE_MB", None, config.result_cache_mb, 128, id="cache"),
        pytest.param("SELFCARE_RESULT_CACHE_MB", "16", config.result_cache_mb, 16, id="cache-set"),
        pytest.param("SELFCARE_PROXY_HOPS", None, config.proxy_hops, 0, id="hops"),
        pytest.param("SELFCARE_PROXY_HOPS", "", config.proxy_hops, 0, id="hops-empty"),
        pytest.param("SELFCARE_PROXY_HOPS", "2", config.proxy_hops, 2, id="hops-set"),
        pytest.param("SELFCARE_TEST_PAUSE_AT", None, config.pause_point, "", id="pause"),
        pytest.param("SELFCARE_TEST_PAUSE_SECONDS", "0.5", config.pause_seconds, 0.5, id="pause-s"),
    ],
)
def test_process_settings_and_their_defaults(monkeypatch, variable, value, read, expected):
    if value is None:
        monkeypatch.delenv(variable, raising=False)
    else:
        monkeypatch.setenv(variable, value)
    assert read() == expected
