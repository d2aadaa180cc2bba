# Sourced by the launch scripts: the interpreter they run, in $PYTHON.
# $PYTHON when set, else the project's .venv (made by `make setup`) when it exists, else
# python3 on PATH. Prints which one, so a wrong environment shows at once.
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$HERE/../.venv/bin/python" ]; then
        PYTHON="$(cd "$HERE/.." && pwd)/.venv/bin/python"
    else
        PYTHON=python3
    fi
fi
echo "${0##*/}: using $PYTHON" >&2
