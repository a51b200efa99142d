#!/usr/bin/env bash
# `make scratch-test`: the static binary in an empty root, as a FROM scratch
# container would run it. The root holds only /snippetd, a CA bundle, and
# /etc/hosts and /etc/resolv.conf as a container runtime writes them; no
# /proc, no /dev, no shell. It runs as uid 65534 against a PostgreSQL with
# TLS and password authentication, with sslmode=verify-full: supervise
# migrates and serves, /health answers from outside, healthcheck inside
# exits 0, SIGTERM stops it with exit 0.
set -euo pipefail
bin=$(readlink -f "${1:?usage: scratch-test.sh path/to/static/snippetd}")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/pg-env.sh
. "$here/pg-env.sh"

file "$bin" | grep -Eq 'static(-pie|ally) linked' || { echo "scratch-test: $bin is not static" >&2; exit 1; }

work=$(mktemp -d /tmp/snippetd-scratch.XXXXXX)
chmod 755 "$work"
pgbin=$(pg_bindir)
pgdata=$work/pg
root=$work/root
sup_pid=
cleanup() {
  [ -n "$sup_pid" ] && kill -KILL "$sup_pid" 2>/dev/null || true
  as_pg "$pgbin/pg_ctl" -D "$pgdata" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "scratch-test: FAIL: $*" >&2; [ -f "$work/snippetd.log" ] && tail -n 20 "$work/snippetd.log" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# A CA and a server certificate for localhost/127.0.0.1.
(
  cd "$work"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout ca.key -out ca.pem \
    -subj "/CN=scratch-test CA" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > server.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -out server.pem -extfile server.ext 2>/dev/null
)

# PostgreSQL: ssl=on, scram passwords on TCP.
password='p@ss:w/rd#?%&= 1'
pgport=$(free_port)
mkdir -p "$pgdata"
[ "$(id -u)" = 0 ] && chown -R postgres "$work/pg" && chown postgres "$work"/server.*
as_pg "$pgbin/initdb" -D "$pgdata" -U admin --auth-local=trust --auth-host=scram-sha-256 -E UTF8 >/dev/null
cp "$work/server.pem" "$pgdata/server.crt"
cp "$work/server.key" "$pgdata/server.key"
[ "$(id -u)" = 0 ] && chown postgres "$pgdata"/server.*
chmod 600 "$pgdata/server.key"
cat >> "$pgdata/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $pgport
unix_socket_directories = '$pgdata'
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
fsync = off
EOF
# hostssl only: a plain-text connection would be refused.
sed -i 's/^host /hostssl /' "$pgdata/pg_hba.conf"
as_pg "$pgbin/pg_ctl" -D "$pgdata" -l "$pgdata/log" -w start >/dev/null
as_pg "$pgbin/psql" -h "$pgdata" -p "$pgport" -U admin -d postgres -q \
  -c "CREATE ROLE app LOGIN PASSWORD '$password'" -c "CREATE DATABASE snippets OWNER app"

# The empty root.
mkdir -p "$root/etc/ssl/certs"
cp "$bin" "$root/snippetd"
cp "$work/ca.pem" "$root/etc/ssl/certs/db-ca.pem"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"
printf 'nameserver 127.0.0.11\noptions ndots:0\n' > "$root/etc/resolv.conf"
echo "scratch-test: root holds: $(cd "$root" && find . -type f | sort | tr '\n' ' ')"

port=$(free_port)
# exec: run in the background, $! must be snippetd itself, not a subshell.
in_root() {
  if [ "$(id -u)" = 0 ]; then
    exec chroot --userspec=65534:65534 "$root" "$@"
  else
    exec unshare --user --map-root-user chroot "$root" "$@"
  fi
}
export DB_HOST=localhost DB_PORT=$pgport DB_USERNAME=app DB_PASSWORD=$password DB_NAME=snippets \
       DB_SSLMODE=verify-full DB_SSLROOTCERT=/etc/ssl/certs/db-ca.pem \
       HOST=127.0.0.1 PORT=$port LOG_FORMAT=json SHUTDOWN_GRACE_SECONDS=5 METRICS_ADDR=off

started=$(date +%s%N)
in_root /snippetd supervise > "$work/snippetd.log" 2>&1 &
sup_pid=$!

for _ in $(seq 1 200); do
  curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  kill -0 "$sup_pid" 2>/dev/null || fail "supervise exited early"
  sleep 0.05
done
curl -fsS "http://127.0.0.1:$port/health" | grep -q '"ok"' || fail "/health did not answer 200"
if [ "$(id -u)" = 0 ]; then
  uid=$(awk '/^Uid:/ {print $2}' "/proc/$sup_pid/status")
  [ "$uid" = 65534 ] || fail "supervise runs as uid $uid, not 65534"
fi
echo "scratch-test: /health 200 after $(( ($(date +%s%N) - started) / 1000000 )) ms (migrations pending at start)"
grep -q 'sslmode=verify-full (TLS required, certificate chain and host name verified)' "$work/snippetd.log" \
  || fail "TLS state not logged as verify-full"
# Writes need a token: minted by the static binary in the root, as an
# operator would (its CSPRNG is the getrandom syscall: no /dev/urandom here).
(in_root /snippetd owner add scratch) >>"$work/cli.log" 2>&1 || fail "owner add inside the root failed: $(cat "$work/cli.log")"
token=$(in_root /snippetd token create --owner scratch --name scratch 2>>"$work/cli.log") \
  || fail "token create inside the root failed: $(cat "$work/cli.log")"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/snippets" \
  -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/json' -d '{"title":"t","language":"sh","code":"echo"}')
[ "$code" = 201 ] || fail "POST /snippets gave $code"
ssl=$(as_pg "$pgbin/psql" -h "$pgdata" -p "$pgport" -U admin -d postgres -tAc \
  "SELECT bool_and(ssl) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE application_name = 'snippetd'")
[ "$ssl" = t ] || fail "the pool's connections are not TLS ($ssl)"
(in_root /snippetd healthcheck) || fail "healthcheck inside the root exited $?"
echo "scratch-test: healthcheck inside the root: exit 0"

kill -TERM "$sup_pid"
status=0
wait "$sup_pid" || status=$?
sup_pid=
[ "$status" = 0 ] || fail "supervise exited $status after SIGTERM"
grep -q 'after the stop signal' "$work/snippetd.log" || fail "no graceful stop in the log"
if grep -qF "$password" "$work/snippetd.log"; then fail "the password is in the log"; fi
echo "scratch-test: SIGTERM: exit 0"
echo "scratch-test: passed"
