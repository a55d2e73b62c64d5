# One image for every process of the platform: the API, each worker, each simulator and
# `ledgerflow seed`. compose.yaml and the Kubernetes deployments (infrastructure/) choose
# the command; the image's entrypoint is the `ledgerflow` CLI.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# The project's metadata first, so a code change does not reinstall the dependencies.
COPY pyproject.toml README.md ./
RUN mkdir domain processes projections adapters api ledgerflow simulators \
    && pip install . \
    && pip uninstall --yes ledgerflow
COPY domain ./domain
COPY processes ./processes
COPY projections ./projections
COPY adapters ./adapters
COPY api ./api
COPY ledgerflow ./ledgerflow
COPY simulators ./simulators
RUN pip install --no-deps . \
    && useradd --system --uid 10001 --no-create-home ledgerflow

# Never root; settings and secrets come from the environment (DATABASE_URL, AMQP_URL,
# LEDGERFLOW_*), never from the image.
USER ledgerflow
EXPOSE 8000
ENTRYPOINT ["ledgerflow"]
CMD ["api", "--host", "0.0.0.0", "--port", "8000"]
