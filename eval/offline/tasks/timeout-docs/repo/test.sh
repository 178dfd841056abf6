#!/bin/sh
# The task's visible test.
set -e
python3 -c "import settings; assert settings.DEFAULT_TIMEOUT == 30"
