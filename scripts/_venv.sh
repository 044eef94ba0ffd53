# Sourced by scripts/test and scripts/demo: makes .venv (once per pyproject.toml change) and
# activates it. Picks the newest CPython available (3.13, 3.12, then python3).
venv_dir="${VENV_DIR:-.venv}"
pick_python() {
    if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"; return; fi
    for candidate in python3.13 python3.12; do
        for path in $(ls -d /root/.pyenv/versions/${candidate#python}*/bin/$candidate 2>/dev/null) \
                    "$(command -v "$candidate" 2>/dev/null)"; do
            if [ -n "$path" ] && "$path" -c 'import sys' >/dev/null 2>&1; then echo "$path"; return; fi
        done
    done
    echo python3
}
stamp="$venv_dir/.installed-$(sha1sum pyproject.toml | cut -c1-12)"
if [ ! -f "$stamp" ]; then
    python_bin="$(pick_python)"
    echo "Creating $venv_dir with $("$python_bin" --version)..." >&2
    rm -rf "$venv_dir"
    "$python_bin" -m venv "$venv_dir"
    "$venv_dir/bin/pip" install --quiet --upgrade pip
    "$venv_dir/bin/pip" install --quiet -e ".[dev]"
    touch "$stamp"
fi
# shellcheck disable=SC1091
. "$venv_dir/bin/activate"
