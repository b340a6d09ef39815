# shellcheck shell=sh
# Shared by the e2e tests that drive `crashdiag demo` with the real kubectl (sourced, POSIX sh):
# the kubectl check (exit 77 without it: a failure in CTest, since install-deps.sh installs it),
# a temporary directory removed on exit with the demo stopped, fail(), and start_demo, which
# starts the demo with its kubeconfig in $dir and waits until its output shows PATTERN.
#
#   . "$(dirname "$0")/demo_lib.sh"; start_demo CRASHDIAG PATTERN WHAT
if ! command -v kubectl >/dev/null 2>&1; then
  echo "kubectl not found: skipped"
  exit 77
fi

dir=$(mktemp -d)
demo_pid=
cleanup() {
  [ -n "$demo_pid" ] && { kill "$demo_pid" 2>/dev/null || true; wait "$demo_pid" 2>/dev/null || true; }
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM
fail() {
  echo "FAIL: $*"
  echo "--- crashdiag demo output:"
  cat "$dir/demo.out" "$dir/demo.err" 2>/dev/null || true
  exit 1
}

# start_demo CRASHDIAG PATTERN WHAT: the demo serves for 120 s at most; WHAT names what did not
# happen when PATTERN does not appear in its output within that time.
start_demo() {
  "$1" demo --kubeconfig-out "$dir/kubeconfig" --exit-after 120 >"$dir/demo.out" 2>"$dir/demo.err" &
  demo_pid=$!
  i=0
  until grep -q "$2" "$dir/demo.out" 2>/dev/null; do
    i=$((i + 1))
    [ "$i" -le 240 ] && kill -0 "$demo_pid" 2>/dev/null || fail "$3 within 120 s"
    sleep 0.5
  done
}
