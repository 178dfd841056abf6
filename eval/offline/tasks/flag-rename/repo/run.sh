#!/bin/sh
[ "$1" = --verbose ] && set -x
echo running
