"""The model artifact: training and packaging model.tar.gz deterministically, its cache (build.py), and the serving
image's facts it is version-locked to (image.py). Imports neither pulumi nor boto3."""
