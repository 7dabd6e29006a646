"""Parameters: params.schema.json (schema.py), the typed model (model.py), validation (rules.py, and aws_limits.py
against botocore's service models), where params come from (sources.py), and the README table (table.py).
Imports neither pulumi nor boto3."""
