"""The Pulumi program: `pulumi up` runs this. The stack itself is defined in bundle/deploy/program.py."""
from bundle.deploy.program import main

main()
