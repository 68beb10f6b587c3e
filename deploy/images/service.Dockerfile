# One Keel service image; build from the repository root, once per service:
#   docker build -f deploy/images/service.Dockerfile --build-arg SERVICE=ledger -t keel/ledger:dev .
# Editable installs keep the source layout: `python -m <svc> migrate` finds its Alembic
# scripts at services/<svc>/migrations, next to the package.
FROM python:3.11-slim
ARG SERVICE
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# glibc's arena per thread keeps what each thread freed; two arenas bound the resident size.
ENV MALLOC_ARENA_MAX=2
WORKDIR /app
COPY requirements.lock .
RUN pip install --no-cache-dir -r requirements.lock
COPY libs/keel-proto libs/keel-proto
COPY libs/keel-runtime libs/keel-runtime
COPY services/${SERVICE} services/${SERVICE}
RUN pip install --no-cache-dir --no-deps --no-build-isolation \
        -e libs/keel-proto -e libs/keel-runtime -e services/${SERVICE}
# The uid the Deployments run as (runAsNonRoot needs a numeric user).
USER 10001:10001
