# One image for every long-running part of pco_pipeline: the gRPC code server, dagster-webserver,
# dagster-daemon, the run workers (DockerRunLauncher / K8sRunLauncher), the webhook receiver and
# the staff console. Each service runs a different command; see deploy/compose.yaml.
#
# BASE_IMAGE: a Debian bookworm image with python3 (3.11) and its venv module.
#   default: pco-pipeline-base:bookworm, built from Debian's packages by `make image`
#            (deploy/base/build-base.sh), for machines that reach no container registry;
#   elsewhere: --build-arg BASE_IMAGE=python:3.11-slim-bookworm
# No secret is baked in: every credential comes from the environment at run time.
ARG BASE_IMAGE=pco-pipeline-base:bookworm

FROM ${BASE_IMAGE} AS build
# uv installs (downloads and unpacks in parallel: ~3x faster than pip here); it stays in this
# stage. SSL_CERT_FILE: the system's certificate authorities plus the build machine's own, if any
# (deploy/build-ca/), for this stage only.
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_CERT=/build/ca-bundle.crt \
    SSL_CERT_FILE=/build/ca-bundle.crt UV_NO_CACHE=1 UV_LINK_MODE=copy UV_PYTHON=/opt/venv/bin/python
COPY deploy/build-ca/ /build/ca/
RUN cat /etc/ssl/certs/ca-certificates.crt $(find /build/ca -name '*.crt') >/build/ca-bundle.crt \
    && python3 -m venv /build/tools && /build/tools/bin/pip install --quiet uv==0.13.9 \
    && python3 -m venv --without-pip /opt/venv
# Every dependency in one layer, reused while only the code changes: the services' own
# (deploy/requirements.txt) and the project's, from pyproject.toml alone (placeholder packages).
# The project is installed editable from /opt/dagster/app, not as a wheel: its definitions load
# through dg.load_from_defs_folder, which needs the package beside its pyproject.toml.
WORKDIR /opt/dagster/app
COPY deploy/requirements.txt /build/deploy-requirements.txt
COPY pyproject.toml ./
RUN mkdir sql pco_pipeline pco_sandbox pco_reference \
    && touch README.md pco_pipeline/__init__.py pco_sandbox/__init__.py pco_reference/__init__.py \
    && /build/tools/bin/uv pip install --quiet --compile-bytecode \
        --requirement /build/deploy-requirements.txt --editable . \
    && rm -r README.md sql pco_pipeline pco_sandbox pco_reference
COPY sql sql
COPY pco_pipeline pco_pipeline
COPY pco_sandbox pco_sandbox
COPY pco_reference pco_reference
# Compiled here, once: the services run with PYTHONDONTWRITEBYTECODE and cannot write beside
# the code, so every process (each run's container too) would compile it again.
RUN /opt/venv/bin/python -m compileall -q pco_pipeline pco_sandbox pco_reference \
    && /opt/venv/bin/pco-pipeline --help >/dev/null

FROM ${BASE_IMAGE}
# socat: only the optional sandbox service uses it, to forward the network to the simulated
# PCO, which listens on loopback only (`pco-pipeline sandbox` has no --host).
RUN apt-get update \
    && apt-get install --yes --no-install-recommends socat \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*
RUN groupadd --system --gid 10001 pco \
    && useradd --system --uid 10001 --gid pco --home-dir /opt/dagster/home --create-home --shell /usr/sbin/nologin pco \
    && install -d -o pco -g pco /opt/dagster/home/state /opt/dagster/home/compute_logs
COPY --from=build /opt/venv /opt/venv
# The code, read-only to the services (owned by root).
COPY --from=build /opt/dagster/app /opt/dagster/app
COPY deploy/dagster.yaml /opt/dagster/home/dagster.yaml
COPY deploy/workspace.yaml /opt/dagster/app/workspace.yaml
ENV PATH=/opt/venv/bin:$PATH \
    DAGSTER_HOME=/opt/dagster/home \
    PCO_PIPELINE_HOME=/opt/dagster/home/state \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /opt/dagster/app
USER pco
# The gRPC code server by default; the other services name their command.
EXPOSE 4000 3000 8787 8789
CMD ["dagster", "code-server", "start", "--host", "0.0.0.0", "--port", "4000", \
     "--module-name", "pco_pipeline.definitions", "--location-name", "pco_pipeline"]
