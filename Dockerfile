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
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_CERT=/build/ca-bundle.crt
# The system's certificate authorities plus the build machine's own, if any (deploy/build-ca/):
# for pip in this stage only.
COPY deploy/build-ca/ /build/ca/
RUN cat /etc/ssl/certs/ca-certificates.crt $(find /build/ca -name '*.crt') >/build/ca-bundle.crt \
    && python3 -m venv /opt/venv
# Dependencies first (their layer is reused while only the code changes).
COPY deploy/requirements.txt /build/deploy-requirements.txt
RUN /opt/venv/bin/pip install --quiet -r /build/deploy-requirements.txt
# The project is installed editable from /opt/dagster/app, not as a wheel: its definitions load
# through dg.load_from_defs_folder, which needs the package beside its pyproject.toml. The
# project's own dependencies are installed from pyproject.toml alone (placeholder packages),
# so that this layer, too, survives a change of code.
WORKDIR /opt/dagster/app
COPY pyproject.toml ./
RUN mkdir sql pco_pipeline pco_sandbox pco_reference \
    && touch README.md pco_pipeline/__init__.py pco_sandbox/__init__.py pco_reference/__init__.py \
    && /opt/venv/bin/pip install --quiet --editable . \
    && rm -r README.md sql pco_pipeline pco_sandbox pco_reference
COPY sql sql
COPY pco_pipeline pco_pipeline
COPY pco_sandbox pco_sandbox
COPY pco_reference pco_reference
RUN /opt/venv/bin/pco-pipeline --help >/dev/null

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
