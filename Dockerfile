# Slim, non-root image. `setup`, as the schema's owner: migrations and the app role's grants;
# `api` (the default), as the app role: the API (docker/entrypoint.sh, docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ENVIRONMENT=production \
    PORT=8000

RUN useradd --create-home --uid 10001 registry
WORKDIR /srv/registry

# the dependencies first, from the hashed lock: a change of code does not reinstall them
COPY requirements/run.txt ./requirements/run.txt
RUN pip install --no-compile --require-hashes -r requirements/run.txt
COPY pyproject.toml README.md ./
COPY app ./app
# editable, for now: the code finds alembic.ini, migrations/ and seed/ beside app/
RUN pip install --no-compile --no-deps -e . && chown -R registry /srv/registry
COPY alembic.ini ./
COPY migrations ./migrations
COPY seed ./seed
COPY docker/entrypoint.sh /usr/local/bin/entrypoint.sh

USER registry
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/health', timeout=2)"
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
CMD ["api"]
