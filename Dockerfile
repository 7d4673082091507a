# syntax=docker/dockerfile:1
# Tether's hub image: `docker build -t tether .`, or `docker compose up` (docker-compose.yml).
# Three stages, so the final image holds the installed hub and the built browser app but
# neither Node nor the sources nor pip's build environment.

# 1. The browser app's production build (frontend/dist), exactly as package-lock.json pins it.
FROM node:20-slim AS app
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY frontend/ ./
RUN npm run build

# 2. The hub and its dependencies in a virtualenv (every one of them ships wheels).
FROM python:3.11-slim AS backend
RUN python -m venv /opt/tether
COPY backend/ /src/backend/
RUN /opt/tether/bin/pip install --no-cache-dir /src/backend

# 3. What runs: the same Python base, the virtualenv, the app's files, a user without rights.
FROM python:3.11-slim
RUN useradd --system --uid 10001 --create-home --home-dir /home/tether tether
COPY --from=backend /opt/tether /opt/tether
COPY --from=app /src/frontend/dist /opt/tether-app
# TETHER_STATIC_DIR: an installed package cannot find frontend/dist beside its sources.
# TETHER_HOST 0.0.0.0: reachable from the proxy; with no users the hub then refuses
# anonymous use and prints a one-time admin login URL instead.
ENV PATH=/opt/tether/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TETHER_STATIC_DIR=/opt/tether-app \
    TETHER_HOST=0.0.0.0 \
    TETHER_PORT=8000
USER tether
WORKDIR /home/tether
EXPOSE 8000
# python, not curl (the slim image has none): /readyz is 200 once the store answers, and
# urlopen raises (exit 1) on its 503 or on no answer at all.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]
ENTRYPOINT ["tether"]
CMD ["serve"]
