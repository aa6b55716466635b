# Sourced by scripts/zoo.sh and scripts/triton.sh: ensure_venv DIR REQUIREMENTS WHAT makes the
# project-local Python environment DIR from the pinned wheels of REQUIREMENTS (pip, binary wheels
# only), again whenever that file changes (its hash is kept in DIR/.requirements); WHAT names
# the environment in the set-up's log.
ensure_venv() {
  local venv="$1" req="$2" what="$3" want
  want="$(sha256sum "$req" | cut -d' ' -f1)"
  if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.requirements" 2>/dev/null)" != "$want" ]; then
    printf '[setup] making %s %s\n' "$what" "$venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary=:all: -r "$req"
    echo "$want" > "$venv/.requirements"
  fi
}
