#!/usr/bin/env bash
# Creates one login role and one database per Dossier service, each database owned by its own
# role and closed to every other. The postgres image runs this once, on the first start with an
# empty data directory (/docker-entrypoint-initdb.d); the services create their tables
# themselves (migrations run at start). Passwords come from the environment (deploy/.env).
#
# Also usable by hand against any server: PGHOST=… PGUSER=… POSTGRES_DB=postgres ./init-databases.sh
set -euo pipefail

create_database() {
  local name="$1" password="$2"
  if [ -z "$password" ]; then
    echo "init-databases: no password for $name" >&2
    exit 1
  fi
  # psql variables (:"name", :'password') quote the identifier and the literal.
  psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" \
    --dbname "${POSTGRES_DB:-postgres}" -v name="$name" -v password="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'name', :'password')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'name') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'name', :'name')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'name') \gexec
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
GRANT ALL ON DATABASE :"name" TO :"name";
SQL
  echo "init-databases: database $name ready"
}

create_database customer_profile "${CUSTOMER_PROFILE_DB_PASSWORD:-}"
create_database visit_journal "${VISIT_JOURNAL_DB_PASSWORD:-}"
create_database contract_receivables "${CONTRACT_RECEIVABLES_DB_PASSWORD:-}"
create_database complaints "${COMPLAINTS_DB_PASSWORD:-}"
create_database analytics "${ANALYTICS_DB_PASSWORD:-}"
create_database gateway "${GATEWAY_DB_PASSWORD:-}"
