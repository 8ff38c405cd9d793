#!/bin/sh
# Fills in slapd.conf.in and bootstrap.ldif.in (the placeholders README.md lists) from the
# environment, loads the fixed entries into an empty database once, then runs slapd in the
# foreground on port 1389 (ldap://, StartTLS with /etc/ldap/tls/tls.{crt,key}).
# Needs BASE_DN (dc=...), ROOT_PASSWORD and PUBLISHER_PASSWORD; ROOT_DN defaults to
# cn=admin,<BASE_DN>.
set -eu
: "${BASE_DN:?BASE_DN is not set}" "${ROOT_PASSWORD:?}" "${PUBLISHER_PASSWORD:?}"
TEMPLATES=${TEMPLATES:-/etc/dief-openldap}
DATA=${DATA:-/var/lib/dief-openldap}
export SCHEMA_DIR=/etc/ldap/schema MODULE_DIR=/usr/lib/ldap RUN_DIR="${RUN_DIR:-/run/slapd}"
PORT=${PORT:-1389}
WORK=${WORK:-/tmp/slapd}
export DIEF_SCHEMA="$TEMPLATES/dief.schema" DATA_DIR="$DATA/db" BASE_DN
export ROOT_DN="${ROOT_DN:-cn=admin,$BASE_DN}"
BASE_DC=$(printf '%s' "$BASE_DN" | sed -n 's/^dc=\([^,]*\).*/\1/p')
[ -n "$BASE_DC" ] || { echo "BASE_DN must start with dc=, e.g. dc=dief,dc=int" >&2; exit 2; }
export BASE_DC
ROOT_PW=$(slappasswd -h '{SSHA}' -s "$ROOT_PASSWORD")
PUBLISHER_PASSWORD_HASH=$(slappasswd -h '{SSHA}' -s "$PUBLISHER_PASSWORD")
export ROOT_PW PUBLISHER_PASSWORD_HASH
mkdir -p "$DATA_DIR" "$WORK" "$RUN_DIR"
{
  if [ -f /etc/ldap/tls/tls.crt ]; then
    echo "TLSCertificateFile /etc/ldap/tls/tls.crt"
    echo "TLSCertificateKeyFile /etc/ldap/tls/tls.key"
    [ -f /etc/ldap/tls/ca.crt ] && echo "TLSCACertificateFile /etc/ldap/tls/ca.crt"
    echo "security tls=1 update_tls=1 simple_bind=128"
  fi
  envsubst < "$TEMPLATES/slapd.conf.in"
} > $WORK/slapd.conf
if [ -z "$(ls -A "$DATA_DIR")" ]; then
  envsubst < "$TEMPLATES/bootstrap.ldif.in" > $WORK/bootstrap.ldif
  slapadd -f $WORK/slapd.conf -l $WORK/bootstrap.ldif
fi
exec slapd -d 0 -h "ldap://0.0.0.0:$PORT/" -f $WORK/slapd.conf
