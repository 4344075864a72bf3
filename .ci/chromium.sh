# Sourced by .ci/run: makes Debian's Chromium available for the dashboards' browser test
# (tests/dashboards/test_browser.py), which fails under CI if it is missing.
# shellcheck shell=bash
if ! command -v chromium >/dev/null 2>&1; then
  echo "==> installing Chromium (Debian's package) for the browser test" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq </dev/null
  apt-get install -y -qq --no-install-recommends chromium </dev/null >/dev/null
fi
