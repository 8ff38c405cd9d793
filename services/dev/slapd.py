"""A private OpenLDAP ``slapd`` (Debian's package) from a generated ``slapd.conf``."""

from __future__ import annotations

import shutil
from pathlib import Path

from services.dev.servers import LOOPBACK, ServerProcess, free_port

SCHEMA_DIR = Path("/etc/ldap/schema")
MODULE_DIR = Path("/usr/lib/ldap")


def slapd_binary() -> str:
    for candidate in (shutil.which("slapd"), "/usr/sbin/slapd"):
        if candidate and Path(candidate).exists():
            return candidate
    raise FileNotFoundError(
        "slapd is not installed (make test installs it: apt-get install -y slapd ldap-utils)"
    )


def slapd_conf(data_dir: Path, suffix: str, root_dn: str, root_password: str) -> str:
    schemas = "\n".join(
        f"include {SCHEMA_DIR / name}.schema" for name in ("core", "cosine", "inetorgperson")
    )
    return f"""{schemas}
modulepath {MODULE_DIR}
moduleload back_mdb
moduleload syncprov
pidfile {data_dir / "slapd.pid"}
argsfile {data_dir / "slapd.args"}

database mdb
maxsize 1073741824
suffix "{suffix}"
rootdn "{root_dn}"
rootpw {root_password}
directory {data_dir / "db"}
index objectClass eq
index entryCSN,entryUUID eq
overlay syncprov
"""


def slapd_server(
    work_dir: Path,
    *,
    suffix: str = "dc=dief,dc=test",
    root_dn: str = "cn=admin,dc=dief,dc=test",
    root_password: str = "secret",
    port: int | None = None,
) -> ServerProcess:
    port = port or free_port()
    (work_dir / "db").mkdir(parents=True, exist_ok=True)
    conf = work_dir / "slapd.conf"
    conf.write_text(slapd_conf(work_dir, suffix, root_dn, root_password))
    return ServerProcess(
        "slapd",
        [slapd_binary(), "-h", f"ldap://{LOOPBACK}:{port}/", "-f", str(conf), "-d", "0"],
        port,
        work_dir / "slapd.log",
    )
