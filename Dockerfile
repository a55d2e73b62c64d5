# One image for every process of the platform: the API, each worker, each simulator,
# `ledgerflow db migrate` and `ledgerflow seed`. docker-compose.yml and the Kubernetes
# deployments (infrastructure/) choose the command; the image's entrypoint is the
# `ledgerflow` CLI.
#
# The base image is pinned by tag. To pin it to the byte, resolve the tag's digest where
# a registry is reachable and put it in the FROM line:
#   docker buildx imagetools inspect python:3.11.14-slim-bookworm   # prints "Digest: sha256:..."
#   FROM python:3.11.14-slim-bookworm@sha256:<that digest>
FROM python:3.11.14-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# The locked production dependencies first (every one pinned, every file's hash checked),
# so a code change does not reinstall them. No embedded PostgreSQL: DATABASE_URL is set.
COPY requirements/prod.txt ./requirements/prod.txt
RUN pip install --require-hashes -r requirements/prod.txt
# Then the project alone: its dependencies are all in place.
COPY pyproject.toml README.md ./
COPY domain ./domain
COPY processes ./processes
COPY projections ./projections
COPY adapters ./adapters
COPY api ./api
COPY ledgerflow ./ledgerflow
COPY simulators ./simulators
RUN pip install --no-deps --no-build-isolation . \
    && useradd --system --uid 10001 --no-create-home ledgerflow

# Never root; settings and secrets come from the environment (DATABASE_URL, AMQP_URL,
# LEDGERFLOW_*), never from the image.
USER ledgerflow
EXPOSE 8000
ENTRYPOINT ["ledgerflow"]
CMD ["api", "--host", "0.0.0.0", "--port", "8000"]
