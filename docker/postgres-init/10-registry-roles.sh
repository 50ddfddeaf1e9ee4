#!/bin/sh
# The database's two roles. The postgres image runs this once, as the superuser POSTGRES_USER
# in POSTGRES_DB, when it initialises an empty data directory (/docker-entrypoint-initdb.d).
# Run it again, the same way, on a database an older deployment migrated as the superuser:
# it is idempotent, and hands that database's objects to the owner (README "Deployment").
# tests/audit/test_app_role.py runs this file, on both kinds of database.
#
# REGISTRY_OWNER owns the database, the schema and every object in it: `vertebro migrate`
# runs as it. REGISTRY_APP is the service's: no superuser, owns nothing, may only what
# `vertebro db grant-app-role` grants after each migration (app/db_roles.py). Disabling the
# audit trail's triggers takes the table's owner, skipping them (session_replication_role) a
# superuser: REGISTRY_APP can do neither.
set -eu
psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  --set=db="$POSTGRES_DB" \
  --set=owner="${REGISTRY_OWNER:-registry_owner}" \
  --set=owner_password="${REGISTRY_OWNER_PASSWORD:?set REGISTRY_OWNER_PASSWORD}" \
  --set=app="${REGISTRY_APP:-registry_app}" \
  --set=app_password="${REGISTRY_APP_PASSWORD:?set REGISTRY_APP_PASSWORD}" <<'SQL'
SELECT format('CREATE ROLE %I', name) FROM (VALUES (:'owner'), (:'app')) AS r (name)
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r.name) \gexec
ALTER ROLE :"owner" LOGIN PASSWORD :'owner_password'
  NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
ALTER ROLE :"app" LOGIN PASSWORD :'app_password'
  NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
ALTER DATABASE :"db" OWNER TO :"owner";
ALTER SCHEMA public OWNER TO :"owner";
-- before PostgreSQL 15 every role could create tables in public
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO :"app";

-- An existing database's tables, views, sequences (those of a column move with their table)
-- and functions, whoever made them, become the owner's.
SELECT format(
  'ALTER %s %s OWNER TO %I',
  CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
    ELSE 'TABLE' END,
  c.oid::regclass, :'owner')
FROM pg_class c
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
  AND pg_get_userbyid(c.relowner) <> :'owner'
  AND NOT EXISTS (
    SELECT FROM pg_depend d
    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i')
      AND c.relkind = 'S')
\gexec
SELECT format('ALTER ROUTINE %s OWNER TO %I', p.oid::regprocedure, :'owner')
FROM pg_proc p
WHERE p.pronamespace = 'public'::regnamespace AND pg_get_userbyid(p.proowner) <> :'owner'
\gexec
SELECT format(
  'ALTER %s %s OWNER TO %I',
  CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, t.oid::regtype, :'owner')
FROM pg_type t
WHERE t.typnamespace = 'public'::regnamespace AND t.typtype IN ('e', 'd')
  AND pg_get_userbyid(t.typowner) <> :'owner'
\gexec
SQL
