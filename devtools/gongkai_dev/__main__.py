import sys

from gongkai_dev.cli import main

sys.exit(main())
