# gandyn in a container: the lab on http://localhost:8000/ (see docker-compose.yml).
# Two stages: the first builds the wheel (the page inside it, as package data), the second
# installs CPU torch and that wheel; no source tree in the image. tests/deploy/test_wheel.py
# runs the same build steps (copy these sources, pip wheel) and serves the installed wheel.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gan_core gan_core
COPY server server
COPY web web
RUN pip wheel --no-deps --wheel-dir /dist .

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# PyTorch first, from the CPU-only index: the package's "torch>=2.2,<3" is then satisfied and
# pip never pulls the CUDA build (gigabytes, useless for these small models). Its own layer,
# so code changes do not reinstall it.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

# Then the wheel of the first stage, and the user the server runs as.
COPY --from=build /dist /dist
RUN pip install /dist/gandyn-*.whl && rm -rf /dist && useradd --create-home --uid 1000 gandyn

# Plug-ins (Python files registering losses or regularizers) are mounted here and named on
# the command line: docker run ... gandyn --plugin /plugins/my_loss.py
VOLUME ["/plugins"]
USER gandyn
WORKDIR /home/gandyn
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/api/health', timeout=4)"]

# Extra options (--plugin, --max-sessions, --allow-origin, --grace, --replica) go after the
# image name.
ENTRYPOINT ["gandyn", "serve", "--host", "0.0.0.0", "--port", "8000"]
CMD []
