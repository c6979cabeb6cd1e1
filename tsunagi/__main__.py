"""`python -m tsunagi`: the same as the tsunagi command."""
import sys

from tsunagi.app.cli import main

sys.exit(main())
