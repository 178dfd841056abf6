#!/bin/sh
# The tiny repository's test suite: the greeting must say goodbye.
grep -qx goodbye greeting.txt || { echo "greeting.txt says '$(cat greeting.txt)', expected 'goodbye'" >&2; exit 1; }
echo "1 passed, 0 failed"
