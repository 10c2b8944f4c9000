# SE&RR scoring service (installed in place, so alembic.ini and migrations/ sit beside app/). Runs migrations, then serves on port 8000 as a non-root user.
#   docker build -t serr .
#   docker run -p 8000:8000 -e SERR_ENVIRONMENT=production -e SERR_SECRET_KEY=... \
#     -e SERR_DATABASE_URL=postgresql+psycopg://serr:...@db:5432/serr serr
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    SERR_WORKERS=2

WORKDIR /srv/serr
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY scoring ./scoring
COPY migrations ./migrations
RUN pip install -e . \
    && useradd --system --uid 10001 --home-dir /srv/serr serr \
    && mkdir -p /srv/serr/data \
    && chown -R serr /srv/serr/data

USER serr
# SQLite default inside the container lives on a volume; use PostgreSQL in production.
ENV SERR_DATABASE_URL=sqlite:////srv/serr/data/serr.db
VOLUME ["/srv/serr/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz').status == 200 else 1)"
CMD ["sh", "-c", "serr migrate && exec serr serve --host 0.0.0.0 --port 8000 --workers ${SERR_WORKERS}"]
