#!/usr/bin/env bash
# What the test suite needs beyond npm packages: a redis-server binary (the
# cluster tests start their own) and Debian's chromium (the browser tests
# drive it through playwright-core, which never downloads a browser), and
# Debian's python3-socketio with its transports' libraries (the Python client
# test runs /usr/bin/python3), and python3-jwt with the cryptography it needs for
# ES256 (docs/verifying.md's PyJWT example is run by test/interop/pyjwt-verifier.test.ts).
# Installs whichever is missing with apt-get; says what to install otherwise.
set -euo pipefail
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
/usr/bin/python3 -c 'import socketio' >/dev/null 2>&1 || missing+=(python3-socketio)
# python-engineio's transports need websocket-client and requests, only recommended by the package.
/usr/bin/python3 -c 'import websocket' >/dev/null 2>&1 || missing+=(python3-websocket)
/usr/bin/python3 -c 'import requests' >/dev/null 2>&1 || missing+=(python3-requests)
/usr/bin/python3 -c 'import jwt' >/dev/null 2>&1 || missing+=(python3-jwt)
# PyJWT's ES256 needs cryptography, only recommended by python3-jwt.
/usr/bin/python3 -c 'import cryptography' >/dev/null 2>&1 || missing+=(python3-cryptography)
if [ -z "${CHROMIUM_PATH:-}" ] && [ ! -x /usr/bin/chromium ]; then missing+=(chromium); fi
[ ${#missing[@]} -eq 0 ] && { echo "test dependencies present: redis-server, chromium, python3-socketio, python3-websocket, python3-requests, python3-jwt, python3-cryptography"; exit 0; }
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "please install: ${missing[*]} (Debian/Ubuntu: sudo apt-get install ${missing[*]})," >&2
  echo "or set CHROMIUM_PATH to a Chromium binary" >&2
  exit 1
fi
echo "installing ${missing[*]} (Debian)"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
