"""A Pulumi deployment bundle for a scikit-learn model on a SageMaker real-time endpoint."""
