# Sourced by .ci/run: makes Debian's Chromium available for the dashboards' browser test
# (tests/dashboards/test_browser.py), which fails under CI if it is missing.
# shellcheck shell=bash
# The test drives /usr/bin/chromium (tests/support/chromium.py): Debian's package puts it there.
if [ ! -x /usr/bin/chromium ]; then
  echo "==> installing Chromium (Debian's package) for the browser test" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq </dev/null
  apt-get install -y -qq --no-install-recommends chromium </dev/null >/dev/null
fi
