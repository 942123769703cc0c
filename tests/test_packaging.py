"""The distribution: kernels/ and reference/ install as intq.kernels and intq.reference."""

import ast
import os
import pathlib
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _imports(path: pathlib.Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append("." * node.level + (node.module or ""))
    return names


def test_layout_rules_hold():
    # kernels/ never imports intq or reference/; reference/ never imports kernels/.
    for folder, forbidden in [
        ("kernels", ("intq", "reference")),
        ("reference", ("intq", "kernels")),
    ]:
        files = list((ROOT / folder).rglob("*.py"))
        assert files
        for path in files:
            for name in _imports(path):
                assert not name.lstrip(".").startswith(forbidden) and not name.startswith(".."), (
                    path,
                    name,
                )
                assert name != ".kernels" or folder != "reference", (path, name)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    # Built in an isolated environment with the build backend pyproject.toml names, as pip does.
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)]
    done = subprocess.run(build, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    (whl,) = out.glob("intq-*.whl")
    return whl


def test_wheel_maps_the_folders_into_the_package(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "intq/kernels/fixed_point.py" in names
    assert "intq/reference/int_oracle/fixed_point.py" in names
    assert "intq/reference/float_ops/__init__.py" in names and "intq/ops/__init__.py" in names
    assert "intq/__init__.py" in names and "intq/io/__init__.py" in names
    assert not any(n.startswith(("kernels/", "reference/", "tests/")) for n in names)
    assert any(n.endswith("entry_points.txt") for n in names)


def test_regular_install_imports_and_computes(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--quiet",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    code = (
        "import intq, intq.kernels.fixed_point as k, intq.reference.int_oracle as o;"
        "print(intq.__file__); print(k.__file__);"
        "print(k.srdhm(2**30, 2**30) == o.srdhm(2**30, 2**30))"
    )
    env = dict(os.environ, PYTHONPATH=str(target), NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    intq_file, kernel_file, same = done.stdout.split()
    assert intq_file.startswith(str(target)) and kernel_file.startswith(str(target))
    assert same == "True"
