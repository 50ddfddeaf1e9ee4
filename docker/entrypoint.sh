#!/bin/sh
# setup: as the schema's owner (DATABASE_URL), migrate, grant the service's role (REGISTRY_APP)
#   what it needs, seed if asked, rebuild the statistics' summary; then exit.
# api: serve, as the service's role (DATABASE_URL); `setup` must have run first.
# Anything else runs as `vertebro <command>` (serve, worker, triggers sweep, keys ...).
set -eu
case "${1:-api}" in
  setup)
    vertebro migrate
    vertebro db grant-app-role "${REGISTRY_APP:?set REGISTRY_APP to the role the service connects as}"
    if [ "${SEED_ON_START:-false}" = "true" ]; then vertebro seed; fi
    vertebro stats refresh  # a migration may ask for a rebuild: done here, not in a request
    ;;
  api)
    exec vertebro serve --host 0.0.0.0 --port "${PORT:-8000}" --workers "${WEB_CONCURRENCY:-2}"
    ;;
  *)
    exec vertebro "$@"
    ;;
esac
