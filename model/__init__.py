"""Training and the inference code that ships inside the artifact (runs without `bundle/`)."""
