"""The names and tags the implied requests share (aws_requests.py, feature_requests.py): a resource's tags, and an
auto-generated physical name at its full length (Pulumi adds `-` and 7 random characters)."""
from __future__ import annotations

from bundle.names import BUNDLE_TAG, logical_name
from bundle.params.shapes import From

AUTONAME = "-" + "a" * 7  # what Pulumi appends to an auto-named resource's logical name
ACCOUNT = "123456789012"  # any 12 digits: no limit depends on which
SHA256 = "0" * 64


def tag_pairs(d: dict) -> list[tuple[From, From]]:
    pairs = [(From(k, f"tags.{k}"), From(v, f"tags.{k}")) for k, v in d["tags"].items()]
    pairs += [(From("bundle", "(derived)"), From(BUNDLE_TAG, "(derived)")), (From("endpoint", "endpoint_name"), From(d["endpoint_name"], "endpoint_name"))]
    return pairs


def tag_list(d: dict) -> list[dict]:
    return [{"Key": k, "Value": v} for k, v in tag_pairs(d)]


def auto(d: dict, suffix: str, limit: int = 63, lower: bool = False) -> From:
    return From(logical_name(d["endpoint_name"], suffix, limit=limit, lower=lower) + AUTONAME, "endpoint_name")
