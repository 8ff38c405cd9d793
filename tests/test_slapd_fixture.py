"""The OpenLDAP fixture: a private slapd answers, and entries can be written and read."""

from __future__ import annotations

from ldap3 import ALL, SUBTREE, Connection, Server

from services.dev.servers import ServerProcess


def test_slapd_fixture_serves_a_writable_directory(slapd: ServerProcess) -> None:
    server = Server(f"ldap://127.0.0.1:{slapd.port}", get_info=ALL)
    conn = Connection(server, "cn=admin,dc=dief,dc=test", "secret", auto_bind=True)
    assert conn.add("dc=dief,dc=test", ["dcObject", "organization"], {"o": "DIEF", "dc": "dief"}), (
        conn.result
    )
    assert conn.add("ou=people,dc=dief,dc=test", ["organizationalUnit"]), conn.result
    assert conn.add(
        "cn=Jean Dupont,ou=people,dc=dief,dc=test",
        ["inetOrgPerson"],
        {
            "sn": "Dupont",
            "givenName": "Jean",
            "mail": "jean@douane.example",
            "telephoneNumber": "+33123456789",
        },
    ), conn.result
    conn.search(
        "dc=dief,dc=test",
        "(mail=jean@douane.example)",
        SUBTREE,
        attributes=["cn", "sn", "telephoneNumber"],
    )
    assert [e.sn.value for e in conn.entries] == ["Dupont"]
    assert "1.3.6.1.4.1.4203.1.9.1.1" in {c[0] for c in server.info.supported_controls}  # sync
    conn.unbind()
