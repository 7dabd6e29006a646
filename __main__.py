"""The Pulumi program: `pulumi up` runs this. The stack itself is defined in bundle/program.py."""
from bundle.program import main

main()
