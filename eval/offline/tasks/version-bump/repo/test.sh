#!/bin/sh
# The task's visible test.
set -e
grep -qx '1.2.4' VERSION
