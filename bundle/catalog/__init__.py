"""What a platform bundle catalog needs besides params: connections, metadata, the endpoint artifact's
schema, the bundle manifest, and the catalog run. One job per module:

  documents.py          JSON documents checked against the bundle's schemas, every problem named
  connections.py        aws_authentication (the role to deploy as) and network (fills `vpc`)
  metadata.py           name_prefix and default_tags from the catalog's metadata block
  inputs.py             params + connections + metadata, resolved and validated together
  provider.py           the explicit AWS provider that assumes the connection's role
  endpoint_artifact.py  the `endpoint` artifact: its schema, its invoke policy, its validation
  manifest.py           bundle.yaml, generated from the project's own sources
  run.py                `python -m bundle catalog run`: validate, plan, write artifact and guide
"""
