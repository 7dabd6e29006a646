"""The REST front's contract (contract.py) and its Lambda proxy (lambda_handler.py, packaged by package.py).
Standard library, boto3 and botocore only: the Lambda ships this package as it is."""
