# Shared set-up for bin/study and bin/test: create or update .venv/ in the
# project root with the pinned packages and install scattermorph in editable
# mode. Sourced, not run. Needs only Python >= 3.11 and git.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "error: scattermorph needs Python >= 3.11; '$PY' is $("$PY" --version 2>&1)." >&2
    echo "       Set PYTHON=/path/to/python3.11 and run again." >&2
    exit 2
fi
LOCK="requirements/${1:-lock}.txt"
STAMP=".venv/.installed-$(basename "$LOCK" .txt)"
if [ ! -x .venv/bin/python ]; then
    echo ">> creating .venv with $("$PY" --version)"
    "$PY" -m venv .venv
fi
# Reinstall only when the pins or the package metadata changed since last time
want="$(cat requirements/*.txt pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
    echo ">> installing pinned packages from $LOCK"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip==25.3
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$LOCK"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
    echo "$want" > "$STAMP"
fi
export PATH="$ROOT/.venv/bin:$PATH"
