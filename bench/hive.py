"""Hive Gateway for the side-by-side benchmark: installed from npm into a scratch folder
(with Node 24 from npm when the machine's node is older), started on a supergraph file,
forwarding the client's Authorization header to the subgraphs.

    hive = HiveGateway.install()          # None (and says why) when npm cannot be reached
    with hive.serve(supergraph, port, dedupe=True, log=path):
        ...
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

VERSION = "2.15"
NODE = "24"
FOLDER = Path(os.environ.get("DIEF_BENCH_HIVE_DIR", Path.home() / ".cache" / "dief-bench-hive"))

CONFIG = """import { defineConfig } from '@graphql-hive/gateway'
export const gatewayConfig = defineConfig({
  propagateHeaders: {
    fromClientToSubgraphs: ({ request }) => ({
      authorization: request.headers.get('authorization') ?? '',
    }),
  },
  transportEntries: {
    '*.http': { options: { deduplicateInflightRequests: DEDUPE } },
  },
  logging: 'error',
})
"""


def _node_major(node: str) -> int:
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30)
        return int(out.stdout.strip().lstrip("v").split(".")[0])
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return 0


class HiveGateway:
    def __init__(self, folder: Path, node: str) -> None:
        self.folder = folder
        self.node = node
        self.entry = folder / "node_modules" / "@graphql-hive" / "gateway" / "dist" / "bin.js"

    @classmethod
    def install(cls, folder: Path = FOLDER) -> HiveGateway | None:
        npm = shutil.which("npm")
        if npm is None:
            print("  Hive Gateway skipped: no npm on this machine")
            return None
        folder.mkdir(parents=True, exist_ok=True)
        system_node = shutil.which("node") or ""
        packages = [f"@graphql-hive/gateway@{VERSION}"]
        if _node_major(system_node) < int(NODE):
            packages.append(f"node@{NODE}")
        local_node = folder / "node_modules" / ".bin" / "node"
        hive = cls(folder, str(local_node) if "node@24" in packages else system_node)
        if not hive.entry.exists() or (len(packages) > 1 and not local_node.exists()):
            print(f"  installing {', '.join(packages)} from npm into {folder} ...", flush=True)
            try:
                done = subprocess.run(
                    [
                        npm,
                        "install",
                        "--no-audit",
                        "--no-fund",
                        "--loglevel=error",
                        "--prefix",
                        str(folder),
                        *packages,
                    ],
                    capture_output=True,
                    text=True,
                    timeout=900,
                )
            except subprocess.TimeoutExpired:
                print("  Hive Gateway skipped: npm did not finish installing in 15 minutes")
                return None
            if done.returncode != 0:
                reason = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["?"]
                print(f"  Hive Gateway skipped: npm could not install it ({reason[0]})")
                return None
        if not hive.entry.exists():
            print(f"  Hive Gateway skipped: {hive.entry} missing after the install")
            return None
        return hive

    def version(self) -> str:
        out = subprocess.run([self.node, "--version"], capture_output=True, text=True)
        return f"Hive Gateway {VERSION} on Node {out.stdout.strip()}"

    @contextmanager
    def serve(
        self, supergraph: Path, port: int, *, dedupe: bool, log: Path
    ) -> Iterator[subprocess.Popen[bytes]]:
        work = log.parent / f"hive-{port}"
        work.mkdir(parents=True, exist_ok=True)
        shutil.copy(supergraph, work / "supergraph.graphql")
        config = CONFIG.replace("DEDUPE", "true" if dedupe else "false")
        (work / "gateway.config.ts").write_text(config)
        argv = [
            self.node,
            str(self.entry),
            "supergraph",
            "supergraph.graphql",
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
        ]
        with log.open("wb") as out:
            proc = subprocess.Popen(
                argv,
                cwd=work,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=dict(os.environ),  # one process (no NODE_ENV=production: no forks)
            )
            try:
                yield proc
            finally:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(30)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    os.killpg(proc.pid, signal.SIGKILL)
