# Sourced by scripts/test and scripts/demo: makes the virtualenv (again only when pyproject.toml
# changes) and activates it. VENV_EXTRAS picks what is installed: "dev" (the default: the test
# toolchain), "demo" (the runtime dependencies and the example project's: a fraction of the
# download) or "" (the runtime only). A dev install also serves the demo, so switching between
# the two commands reinstalls nothing.
# Picks the newest CPython available (3.13, 3.12, then python3); PYTHON overrides.
venv_dir="${VENV_DIR:-.venv}"
venv_extras="${VENV_EXTRAS-dev}"
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
pyproject_hash="$(sha1sum pyproject.toml | cut -c1-12)"
dev_stamp="$venv_dir/.installed-dev-$pyproject_hash"
runtime_stamp="$venv_dir/.installed-${venv_extras:-runtime}-$pyproject_hash"
if [ "$venv_extras" = dev ]; then wanted_stamp="$dev_stamp"; else wanted_stamp="$runtime_stamp"; fi
# A virtualenv whose interpreter is gone (a Python upgraded or removed) or too old for the project
# (a .venv left by another Python) is made again, whatever its stamps say.
if ! "$venv_dir/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then
    python_bin="$(pick_python)"
    echo "Creating $venv_dir with $("$python_bin" --version)..." >&2
    rm -rf "$venv_dir"
    "$python_bin" -m venv "$venv_dir"
fi
if [ ! -f "$dev_stamp" ] && [ ! -f "$wanted_stamp" ]; then
    echo "Installing django-voucherify${venv_extras:+[$venv_extras]} into $venv_dir..." >&2
    "$venv_dir/bin/python" -m pip install --quiet --disable-pip-version-check \
        -e ".${venv_extras:+[$venv_extras]}"
    rm -f "$venv_dir"/.installed-*
    touch "$wanted_stamp"
fi
# shellcheck disable=SC1091
. "$venv_dir/bin/activate"
