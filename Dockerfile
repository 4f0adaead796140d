# Production image: the service against PostgreSQL. Configure with SAMKONS_* variables, e.g.
#   SAMKONS_MODE=production SAMKONS_SECRET_KEY=... SAMKONS_BASE_URL=https://samkons.example
#   SAMKONS_DATABASE_URL=postgresql+asyncpg://samkons@db/samkons
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    SAMKONS_MODE=production SAMKONS_HOST=0.0.0.0 SAMKONS_PORT=8080

WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY service ./service
COPY signalling ./signalling
COPY scheduler ./scheduler
COPY web ./web
RUN pip install --no-cache-dir . && useradd --system --uid 10001 samkons
USER samkons

EXPOSE 8080
# Migrations run before the server starts; replicas queue on a PostgreSQL advisory lock
# (service/storage/migrations/env.py), so the first migrates and the rest find nothing to do.
CMD ["sh", "-c", "samkons migrate && exec samkons serve"]
