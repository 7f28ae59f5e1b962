# The express worker image: `express` on Python 3.11, run as an unprivileged user.
#
#   docker build -t express-worker .
#   docker run --rm express-worker run --help
#
# The source tree is copied to /app (see .dockerignore), installed from there, and kept
# as the working directory so the bundled examples resolve by relative path
# (express/examples/iot/...), as in docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 express \
    && mkdir -p /var/lib/express \
    && chown express /var/lib/express

WORKDIR /app
COPY . /app
RUN pip install /app

USER express
EXPOSE 9358
ENTRYPOINT ["express"]
CMD ["--help"]
