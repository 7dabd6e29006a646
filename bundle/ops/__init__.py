"""Operating a deployed endpoint: boto3 clients and identity (aws.py), the smoke test, the load test, and the
guide's example requests. Never imports pulumi."""
