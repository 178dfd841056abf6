#!/bin/sh
# The task's visible test.
set -e
grep -qx 'port = 8080' app.ini
