"""`python -m tsunagi`: the same as the tsunagi command."""
import sys

from tsunagi.app.commands import main

sys.exit(main())
