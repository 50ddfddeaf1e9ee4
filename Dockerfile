# Two stages: `build` makes the wheel (the migrations, alembic.ini and the paper's cases travel
# inside it, pyproject.toml), the image installs the hashed run lock, then that wheel; no
# checkout, no compiler, no build tools in it. At run time: `setup`, as the schema's owner,
# migrates and grants the app role; `api` (the default), as the app role, serves
# (docker/entrypoint.sh, docker-compose.yml). Versions: docs/deployment.md "Images".
FROM python:3.11.14-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY requirements/build.txt ./requirements/build.txt
RUN pip install --no-cache-dir --require-hashes -r requirements/build.txt
COPY pyproject.toml README.md alembic.ini ./
COPY migrations ./migrations
COPY seed ./seed
COPY app ./app
RUN pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /dist .

FROM python:3.11.14-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ENVIRONMENT=production \
    PORT=8000

RUN useradd --create-home --home-dir /srv/registry --uid 10001 registry \
    && mkdir -p /srv/registry/var/bulk-exports && chown -R 10001 /srv/registry/var
WORKDIR /srv/registry

# the dependencies first, from the hashed lock: a change of code does not reinstall them
COPY requirements/run.txt /tmp/requirements/run.txt
RUN pip install --no-cache-dir --no-compile --require-hashes -r /tmp/requirements/run.txt \
    && rm -r /tmp/requirements
COPY --from=build /dist /tmp/dist
RUN pip install --no-cache-dir --no-compile --no-deps /tmp/dist/vertebro_registry-*.whl \
    && rm -r /tmp/dist
COPY docker/entrypoint.sh /usr/local/bin/entrypoint.sh

USER 10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/health', timeout=2)"]
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
CMD ["api"]
