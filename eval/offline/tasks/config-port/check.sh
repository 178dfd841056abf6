#!/bin/sh
# The hidden check: it decides success, and is never in the repository the agents see.
set -e
grep -qx 'port = 8080' app.ini && grep -qx '\[server\]' app.ini
