"""The deployment: the Pulumi program (program.py), the SageMakerEndpoint component (component.py) and the
resources it creates, one module per concern, and the stack's outputs."""
