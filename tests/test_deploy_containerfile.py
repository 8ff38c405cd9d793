"""deploy/Containerfile, parsed (no container daemon here): what it copies exists, what it
runs is the wheel's entry point with arguments the ``dief`` command accepts, it runs as a
non-root user with only volumes writable, and it has no HEALTHCHECK."""

from __future__ import annotations

import json
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
from dockerfile_parse import DockerfileParser

from services.cli import parser

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


@pytest.fixture(scope="module")
def instructions() -> list[dict[str, Any]]:
    with (ROOT / "deploy" / "Containerfile").open("rb") as fh:
        parsed = DockerfileParser(fileobj=fh)
        return [i for i in parsed.structure if i["instruction"] != "COMMENT"]


def stages(instructions: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    out: list[list[dict[str, Any]]] = []
    for ins in instructions:
        if ins["instruction"] == "FROM":
            out.append([])
        if out:
            out[-1].append(ins)
    return out


def exec_form(value: str) -> list[str]:
    words = json.loads(value)
    assert isinstance(words, list) and all(isinstance(w, str) for w in words), value
    return words


def test_multi_stage_on_a_slim_python_base(instructions: list[dict[str, Any]]) -> None:
    args = dict(i["value"].split("=", 1) for i in instructions if i["instruction"] == "ARG")
    froms = [i["value"].split() for i in instructions if i["instruction"] == "FROM"]
    assert len(froms) >= 2
    for words in froms:
        image = words[0]
        if image.startswith("${"):
            image = args[image.strip("${}")]
        assert "python:3.1" in image and "slim" in image, image


def test_every_copied_path_exists_and_stages_are_named(
    instructions: list[dict[str, Any]],
) -> None:
    names: list[str] = []
    copied: set[str] = set()
    for stage in stages(instructions):
        words = stage[0]["value"].split()
        for ins in stage[1:]:
            if ins["instruction"] != "COPY":
                continue
            parts = shlex.split(ins["value"])
            flags = [p for p in parts if p.startswith("--")]
            sources = [p for p in parts if not p.startswith("--")][:-1]
            from_stage = [f.split("=", 1)[1] for f in flags if f.startswith("--from=")]
            if from_stage:
                assert from_stage[0] in names, f"COPY from an unknown stage: {ins['value']}"
                continue
            for src in sources:
                assert (ROOT / src).exists(), f"COPY of {src}, which the checkout lacks"
                copied.add(src)
        if len(words) == 3 and words[1].upper() == "AS":
            names.append(words[2])
    # What the wheel build needs: the project file, its readme and every package it finds.
    needed = {"pyproject.toml", PYPROJECT["project"]["readme"]}
    needed |= {
        p.rstrip("*") for p in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    assert needed <= copied, needed - copied


def test_the_runtime_installs_the_wheel_and_runs_its_entry_point(
    instructions: list[dict[str, Any]],
) -> None:
    final = stages(instructions)[-1]
    runs = " ".join(i["value"] for i in final if i["instruction"] == "RUN")
    assert (
        f"install --no-cache-dir --no-index --find-links /wheels {PYPROJECT['project']['name']}"
        in runs
    )
    (entrypoint,) = [exec_form(i["value"]) for i in final if i["instruction"] == "ENTRYPOINT"]
    assert entrypoint == ["dief"]
    assert PYPROJECT["project"]["scripts"]["dief"] == "services.cli:main"
    (cmd,) = [exec_form(i["value"]) for i in final if i["instruction"] == "CMD"]
    args = parser().parse_args(cmd)  # the dief command accepts what the image runs
    assert args.command == "serve" and args.host == "0.0.0.0"
    build = " ".join(i["value"] for i in stages(instructions)[0] if i["instruction"] == "RUN")
    assert "pip wheel" in build and "--wheel-dir /wheels" in build


def test_non_root_with_only_volumes_writable_and_no_healthcheck(
    instructions: list[dict[str, Any]],
) -> None:
    assert not [i for i in instructions if i["instruction"] == "HEALTHCHECK"]
    final = stages(instructions)[-1]
    users = [i["value"] for i in final if i["instruction"] == "USER"]
    assert users, "the runtime stage must name a user"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000, "a numeric non-root uid (runAsNonRoot checks it)"
    env: dict[str, str] = {}
    for ins in final:
        if ins["instruction"] == "ENV":
            for word in shlex.split(ins["value"]):
                key, _, value = word.partition("=")
                env[key] = value
    volumes = {v for i in final if i["instruction"] == "VOLUME" for v in exec_form(i["value"])}
    assert env["DIEF_HOME"] in volumes and "/tmp" in volumes
    assert env["DIEF_ENV"] == "prod"
    assert env.get("PYTHONDONTWRITEBYTECODE") == "1"  # nothing written beside the code
