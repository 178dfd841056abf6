#!/bin/sh
# The task's visible test.
set -e
! grep -q recieve README.md
