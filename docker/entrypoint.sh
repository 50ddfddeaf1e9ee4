#!/bin/sh
# api: migrate then serve. Other roles (worker, sweep) are added as the service grows.
set -eu
case "${1:-api}" in
  api)
    vertebro migrate
    if [ "${SEED_ON_START:-false}" = "true" ]; then vertebro seed; fi
    vertebro stats refresh  # a migration may ask for a rebuild: done here, not in a request
    exec vertebro serve --host 0.0.0.0 --port "${PORT:-8000}" --workers "${WEB_CONCURRENCY:-2}"
    ;;
  *)
    exec vertebro "$@"
    ;;
esac
