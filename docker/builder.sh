#!/bin/sh
# The build steps every service image shares, run in its builder stage from the
# workspace root (/src). Split so that Docker caches each on its own inputs:
#
#   builder.sh sources SERVICE  drops other services' code from /src (so their edits
#                               leave this image's layers alone)
#   builder.sh uv             pinned uv in /opt/uv              (inputs: this file)
#   builder.sh protoc         the stub generator in /opt/protoc (inputs: uv.lock)
#   builder.sh deps SERVICE   third-party deps in /opt/venv     (inputs: uv.lock, pyproject.tomls)
#   builder.sh app SERVICE    stubs + workspace packages        (inputs: sources, proto/)
#
# Everything comes from the package index and is pinned by uv.lock. A CA bundle
# given as the build secret `ca-bundle` is trusted (for TLS-intercepting proxies).
set -eu

UV_VERSION=0.13.9
VENV=/opt/venv
PROTOC_VENV=/opt/protoc

if [ -s /run/secrets/ca-bundle ]; then
  export SSL_CERT_FILE=/run/secrets/ca-bundle PIP_CERT=/run/secrets/ca-bundle
fi
export UV_PYTHON_DOWNLOADS=never UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1 \
       UV_PROJECT_ENVIRONMENT="$VENV" UV_NO_PROGRESS=1 PIP_DISABLE_PIP_VERSION_CHECK=1
PATH=/opt/uv/bin:$PATH

# The interpreter of the base image (not a venv's): both stages share it, so the
# venv's python symlink resolves the same way at run time.
python=$(python3 -c 'import os, sys; print(os.path.join(sys.base_prefix, "bin", "python3"))')

step=${1:?usage: builder.sh sources SERVICE|uv|protoc|deps SERVICE|app SERVICE}
case "$step" in
  sources)
    for member in /src/services/* /src/operators/*; do
      if [ -d "$member/src" ] && [ "${member##*/}" != "${2:?service name}" ]; then
        rm -rf "$member/src"
      fi
    done
    ;;
  uv)
    "$python" -m venv /opt/uv
    /opt/uv/bin/pip install --no-cache-dir --quiet "uv==$UV_VERSION"
    ;;
  protoc)
    # The stub generator, at the versions the lock pins for development.
    uv export --frozen --only-group dev --no-emit-workspace --no-hashes --no-header \
        --no-annotate --format requirements-txt \
      | grep -E '^(grpcio-tools|grpcio|protobuf|setuptools)==' > /tmp/protoc.txt
    uv venv --quiet --python "$python" "$PROTOC_VENV"
    uv pip install --quiet --python "$PROTOC_VENV/bin/python" -r /tmp/protoc.txt
    ;;
  deps)
    package="trademesh-${2:?service name}"
    uv sync --frozen --no-dev --no-install-workspace --package "$package" --python "$python"
    ;;
  app)
    package="trademesh-${2:?service name}"
    "$PROTOC_VENV/bin/python" libs/contracts/generate.py
    uv sync --frozen --no-dev --no-editable --package "$package" --python "$python"
    ;;
  *)
    echo "builder.sh: unknown step $step" >&2
    exit 2
    ;;
esac
