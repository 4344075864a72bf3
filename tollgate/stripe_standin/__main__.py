"""``python -m tollgate.stripe_standin --port 12111``."""

from tollgate.stripe_standin.server import main

main()
