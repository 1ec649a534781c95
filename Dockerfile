# imagine-bot: docker build -t imagine-bot . && docker run --env-file .env -v imagine-data:/data imagine-bot
FROM python:3.12-slim

# MALLOC_ARENA_MAX=2: glibc gives each thread that allocates its own arena, and each arena
# keeps the memory it once held; the threads that decode and probe images would each hoard
# tens of MB. Two arenas: 50 MiB less peak memory with 50 jobs of 10 images in flight
# (bench/RESULTS.md), at no measured cost in speed.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MALLOC_ARENA_MAX=2 \
    DATA_DIR=/data

WORKDIR /app

# Dependencies first, so changing the source does not reinstall them (layer cache).
COPY pyproject.toml README.md ./
RUN python - <<'PY' > /tmp/requirements.txt
import tomllib
print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))
PY
RUN pip install -r /tmp/requirements.txt

COPY bot ./bot
COPY cogs ./cogs
COPY locales ./locales
RUN pip install --no-deps .

RUN useradd --system --uid 10001 --home-dir /app imagine \
    && mkdir -p /data && chown imagine /data
USER imagine
VOLUME ["/data"]

CMD ["python", "-m", "bot"]
