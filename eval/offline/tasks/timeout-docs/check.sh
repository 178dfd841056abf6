#!/bin/sh
# The hidden check: it decides success, and is never in the repository the agents see.
set -e
python3 -c "import settings; assert settings.DEFAULT_TIMEOUT == 30" && grep -q "after 30 seconds" README.md
