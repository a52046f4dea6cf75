#!/usr/bin/env bash
# One entry point for everything that needs the toolchain: it installs the pinned Deno, Bun and Zig
# into this folder when they are missing, builds the native library, and then runs the command.
#
#   bash scripts/xio.sh build | dist [--check|--update] | test | demo | bench [args] | chaos [args] | xio [args] | zig [args] | deno [args] | bun [args]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

zig_version=$(tr -d '[:space:]' < zig/zig-version)
tools="$root/.tools"
export PATH="$root/node_modules/.bin:$PATH"

log() { printf '\033[1mxio:\033[0m %s\n' "$*" >&2; }

ensure_js_tools() {
  if [ -x node_modules/.bin/deno ] && [ -x node_modules/.bin/bun ] &&
    [ node_modules/.package-lock.json -nt package-lock.json ]; then
    return
  fi
  log "installing the pinned Deno and Bun from the npm registry"
  npm ci --no-audit --no-fund --loglevel=error
}

zig() { PYTHONPATH="$tools/zig" python3 -m ziglang "$@"; }

ensure_zig() {
  if [ -f "$tools/zig/.version" ] && [ "$(cat "$tools/zig/.version")" = "$zig_version" ]; then
    return
  fi
  log "installing Zig $zig_version from PyPI (ziglang)"
  rm -rf "$tools/zig"
  python3 -m pip install --quiet --root-user-action=ignore --disable-pip-version-check --no-warn-script-location \
    --target "$tools/zig" "ziglang==$zig_version"
  echo "$zig_version" > "$tools/zig/.version"
}

build() {
  ensure_zig
  log "building the native library (zig build, ReleaseSafe)"
  (cd zig && zig build -Doptimize=ReleaseSafe)
  dist --stage
}

# The libraries the package ships, for every target: built, stripped, checked and staged into
# native/ (scripts/dist.ts). --check fails when one differs from the hash recorded in
# ffi/_targets.ts; --update records the new ones.
dist() {
  ensure_zig
  log "building the shipped libraries (zig build dist: x86_64 and aarch64, glibc 2.17 and musl)"
  (cd zig && zig build dist)
  deno run --allow-read --allow-write --allow-env scripts/dist.ts "$@"
}

# The same test files run under both runtimes. Deno needs its permission flags, and exposes gc()
# for the test of what a collected response gives back (Bun has Bun.gc); Bun needs no flags.
test_js() {
  local files=("$@")
  [ ${#files[@]} -gt 0 ] || files=(tests/)
  log "deno test"
  deno test --allow-all --no-check=remote --v8-flags=--expose-gc "${files[@]}"
  log "deno test --doc (the examples in the API docs, which assert what they show)"
  deno test --doc --allow-all --no-check=remote mod.ts errors.ts zero_copy/ socket/ http/
  log "bun test"
  bun test --timeout 120000 "${files[@]}"
}

cmd=${1:-test}
[ $# -gt 0 ] && shift
case "$cmd" in
  build) ensure_js_tools; build ;;
  test)
    ensure_js_tools
    build
    # As root, some tests run peers as another uid (squatting, trust): that user must be able to
    # reach this checkout, which a clone into `mktemp -d` (mode 0700), or below one, does not
    # allow. The checkout becomes readable, and each directory above it that others cannot pass
    # through gets search permission only (o+x: no listing), said here.
    if [ "$(id -u)" = 0 ]; then
      chmod a+rx "$root"
      dir=$(dirname "$root")
      while [ "$dir" != "/" ]; do
        if [ "$(( $(stat -c %a "$dir" | tail -c 2) & 1 ))" = 0 ]; then
          log "letting other users pass through $dir (chmod o+x) for the other-uid tests"
          chmod o+x "$dir"
        fi
        dir=$(dirname "$dir")
      done
    fi
    log "zig build test (unit, fuzz and stress tests of the native core)"
    (cd zig && zig build test -Doptimize=ReleaseSafe)
    test_js "$@"
    ;;
  test-js) ensure_js_tools; build; test_js "$@" ;;
  demo) ensure_js_tools; build; deno run --allow-all examples/pipeline/main.ts "$@" ;;
  bench) ensure_js_tools; build; deno run --allow-all bench/main.ts "$@" ;;
  chaos) ensure_js_tools; build; deno run --allow-all bench/chaos.ts "$@" ;;
  dist) ensure_js_tools; dist "${@:---check}" ;;
  xio)
    # The `xio` command from this checkout (`deno task xio ls`): builds the library once if
    # there is none yet, and then only inspects.
    ensure_js_tools
    [ -f zig/zig-out/lib/libxio.so ] || build
    deno run --allow-all ops/cli.ts "$@"
    ;;
  zig) ensure_zig; (cd zig && zig "$@") ;;
  deno) ensure_js_tools; deno "$@" ;;
  bun) ensure_js_tools; bun "$@" ;;
  *) echo "usage: bash scripts/xio.sh build|dist|test|test-js|demo|bench|chaos|xio|zig|deno|bun [args]" >&2; exit 2 ;;
esac
