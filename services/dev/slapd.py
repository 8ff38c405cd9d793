"""A private OpenLDAP ``slapd`` (Debian's package) from a generated ``slapd.conf``."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from string import Template

from ldap3 import HASHED_SALTED_SHA
from ldap3.utils.dn import parse_dn
from ldap3.utils.hashed import hashed

from services.dev.servers import LOOPBACK, ServerProcess, free_port

SCHEMA_DIR = Path("/etc/ldap/schema")
MODULE_DIR = Path("/usr/lib/ldap")
DIEF_DIRECTORY_CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "openldap"


def slapd_binary() -> str:
    for candidate in (shutil.which("slapd"), "/usr/sbin/slapd"):
        if candidate and Path(candidate).exists():
            return candidate
    raise FileNotFoundError(
        "slapd is not installed (make test installs it: apt-get install -y slapd ldap-utils)"
    )


def slapd_conf(
    data_dir: Path,
    suffix: str,
    root_dn: str,
    root_password: str,
    tls: tuple[Path, Path] | None = None,
) -> str:
    """``tls``: the server's certificate and key files (PEM), to offer StartTLS."""
    schemas = "\n".join(
        f"include {SCHEMA_DIR / name}.schema" for name in ("core", "cosine", "inetorgperson")
    )
    tls_lines = f"TLSCertificateFile {tls[0]}\nTLSCertificateKeyFile {tls[1]}\n" if tls else ""
    return f"""{schemas}
{tls_lines}modulepath {MODULE_DIR}
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
    tls: tuple[Path, Path] | None = None,
    ldaps_port: int | None = None,
) -> ServerProcess:
    """``tls`` offers StartTLS on ``port``; ``ldaps_port`` (with ``tls``) also serves
    ldaps:// there."""
    port = port or free_port()
    (work_dir / "db").mkdir(parents=True, exist_ok=True)
    conf = work_dir / "slapd.conf"
    conf.write_text(slapd_conf(work_dir, suffix, root_dn, root_password, tls))
    urls = f"ldap://{LOOPBACK}:{port}/"
    if tls and ldaps_port:
        urls += f" ldaps://{LOOPBACK}:{ldaps_port}/"
    return ServerProcess(
        "slapd",
        [slapd_binary(), "-h", urls, "-f", str(conf), "-d", "0"],
        port,
        work_dir / "slapd.log",
    )


# --- the DIEF directory's own server, from deploy/openldap ----------------------------------


def render_dief_directory(
    work_dir: Path,
    *,
    base_dn: str,
    root_dn: str,
    root_password: str,
    publisher_password: str,
) -> tuple[Path, Path]:
    """Fill in ``deploy/openldap``'s templates for a server whose files live in ``work_dir``;
    returns the slapd.conf and the bootstrap LDIF (to load with slapadd before starting)."""
    first_attribute, first_value, _ = parse_dn(base_dn)[0]
    if first_attribute.lower() != "dc":
        raise ValueError("the DIEF directory's base DN starts with dc=, e.g. dc=dief,dc=int")
    (work_dir / "db").mkdir(parents=True, exist_ok=True)
    values = {
        "SCHEMA_DIR": str(SCHEMA_DIR),
        "DIEF_SCHEMA": str(DIEF_DIRECTORY_CONFIG / "dief.schema"),
        "MODULE_DIR": str(MODULE_DIR),
        "RUN_DIR": str(work_dir),
        "DATA_DIR": str(work_dir / "db"),
        "BASE_DN": base_dn,
        "BASE_DC": first_value,
        "ROOT_DN": root_dn,
        "ROOT_PW": hashed(HASHED_SALTED_SHA, root_password),
        "PUBLISHER_PASSWORD_HASH": hashed(HASHED_SALTED_SHA, publisher_password),
    }
    conf, ldif = work_dir / "slapd.conf", work_dir / "bootstrap.ldif"
    for target, template in ((conf, "slapd.conf.in"), (ldif, "bootstrap.ldif.in")):
        text = (DIEF_DIRECTORY_CONFIG / template).read_text()
        target.write_text(Template(text).substitute(values))
    return conf, ldif


def dief_directory_server(
    work_dir: Path,
    *,
    base_dn: str = "dc=dief,dc=test",
    root_dn: str = "cn=admin,dc=dief,dc=test",
    root_password: str = "secret",
    publisher_password: str = "publisher-secret",
    port: int | None = None,
) -> ServerProcess:
    """A slapd configured exactly as ``deploy/openldap`` says, its fixed entries loaded."""
    port = port or free_port()
    conf, ldif = render_dief_directory(
        work_dir,
        base_dn=base_dn,
        root_dn=root_dn,
        root_password=root_password,
        publisher_password=publisher_password,
    )
    slapadd = str(Path(slapd_binary()).with_name("slapadd"))
    subprocess.run(
        [slapadd, "-f", str(conf), "-l", str(ldif)], check=True, capture_output=True, text=True
    )
    return ServerProcess(
        "slapd-dief",
        [slapd_binary(), "-h", f"ldap://{LOOPBACK}:{port}/", "-f", str(conf), "-d", "0"],
        port,
        work_dir / "slapd.log",
    )


# --- TLS for tests and local runs ------------------------------------------------------------


def throwaway_certificates(work_dir: Path, host: str = LOOPBACK) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for ``host`` signed by it (PEM files);
    returns (CA certificate, server certificate, server key)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    valid = (now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=2))
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "DIEF test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .sign(ca_key, hashes.SHA256())
    )
    work_dir.mkdir(parents=True, exist_ok=True)
    paths = (work_dir / "ca.pem", work_dir / "server.pem", work_dir / "server.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    paths[2].chmod(0o600)
    return paths
