"""Running the bundle on this machine: the local endpoint (the image's own worker behind a runtime-API front),
the serving image's glue (container/, runs in .venv-image), the offline plan under Pulumi's mocks, the emulated
deployment in moto, and the demo."""
