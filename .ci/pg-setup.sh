#!/usr/bin/env bash
# Sets up the PostgreSQL server the storage tests run against (issue 4); idempotent, run as root on Debian.
# Installs PostgreSQL 15 from Debian when missing, starts the cluster, creates the `newscrawl` role and
# database, and prints the line that points the tests at it:
#   eval "$(bash .ci/pg-setup.sh)"   # sets NEWSCRAWL_TEST_PG_URL
# Progress goes to stderr so that stdout is only the export line.
set -euo pipefail

PG_VERSION=${PG_VERSION:-15}
PG_PORT=${PG_PORT:-5432}
PG_CLUSTER=${PG_CLUSTER:-main}
PG_USER=newscrawl
PG_PASSWORD=newscrawl
PG_DB=newscrawl

log() { echo "pg-setup: $*" >&2; }

if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ ! -x "/usr/lib/postgresql/$PG_VERSION/bin/postgres" ]; then
    log "installing postgresql-$PG_VERSION"
    export DEBIAN_FRONTEND=noninteractive
    # The package creates the first cluster in the environment's locale: make that UTF-8 (see below).
    export LANG=C.UTF-8 LC_ALL=C.UTF-8
    apt-get update -qq >&2
    apt-get install -y -qq "postgresql-$PG_VERSION" "postgresql-contrib" >&2
fi

# pg_trgm classifies characters with the database's LC_CTYPE: under the C locale CJK characters are not
# "alphanumeric", so Chinese text yields no trigrams and the search index is useless. The cluster must
# therefore be UTF-8 (C.UTF-8 is always present on Debian).
if ! pg_lsclusters -h | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1 == v && $2 == c' | grep -q .; then
    log "creating cluster $PG_VERSION/$PG_CLUSTER (C.UTF-8)"
    pg_createcluster --locale C.UTF-8 --port "$PG_PORT" "$PG_VERSION" "$PG_CLUSTER" >&2
fi
if ! pg_lsclusters -h | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1 == v && $2 == c && $4 == "online"' | grep -q .; then
    log "starting cluster $PG_VERSION/$PG_CLUSTER"
    pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start >&2
fi
for _ in $(seq 1 30); do
    su postgres -c "pg_isready -q -p $PG_PORT" && break
    sleep 1
done

psql_admin() { su postgres -c "psql -p $PG_PORT -v ON_ERROR_STOP=1 -qAtX $*"; }

# The tests create a fresh database per test from template1: if the cluster was made in another locale
# (SQL_ASCII or C), remake template1 as UTF-8 / C.UTF-8, the classic way.
if [ "$(psql_admin "-c \"SELECT encoding = pg_char_to_encoding('UTF8') AND datctype ILIKE '%utf%8' FROM pg_database WHERE datname = 'template1'\"")" != "t" ]; then
    log "remaking template1 as UTF-8 (C.UTF-8)"
    psql_admin "-d postgres -c \"UPDATE pg_database SET datistemplate = FALSE WHERE datname = 'template1'\""
    psql_admin "-d postgres -c \"DROP DATABASE template1\""
    psql_admin "-d postgres -c \"CREATE DATABASE template1 WITH TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'\""
    psql_admin "-d postgres -c \"UPDATE pg_database SET datistemplate = TRUE WHERE datname = 'template1'\""
fi

if [ "$(psql_admin "-c \"SELECT 1 FROM pg_roles WHERE rolname = '$PG_USER'\"")" != "1" ]; then
    log "creating role $PG_USER"
    # SUPERUSER because the test fixture creates and drops a fresh database per test.
    psql_admin "-c \"CREATE ROLE $PG_USER LOGIN SUPERUSER PASSWORD '$PG_PASSWORD'\""
fi
if [ "$(psql_admin "-c \"SELECT 1 FROM pg_database WHERE datname = '$PG_DB'\"")" != "1" ]; then
    log "creating database $PG_DB"
    # template0 + an explicit UTF-8 ctype, whatever the cluster's default locale is (see pg_trgm above).
    su postgres -c "createdb -p $PG_PORT -O $PG_USER -T template0 -E UTF8 --lc-collate=C.UTF-8 --lc-ctype=C.UTF-8 $PG_DB"
fi

echo "export NEWSCRAWL_TEST_PG_URL=postgresql+psycopg://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB"
