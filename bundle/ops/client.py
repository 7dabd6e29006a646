"""A client for the endpoint that retries the right errors, and only those. Importable on its own: boto3, botocore
and the standard library only (the REST front's Lambda ships it; smoke, loadtest and the guide use it).

Retries, in two layers:
  botocore's `standard` retry mode (`standard_retries`, every client's config): connection errors, 500/502/503/504 and the throttling error
      codes, with its own exponential backoff and retry quota. It does not retry a bare HTTP 429, so it never
      retries `ModelNotReadyException` (a multi-model endpoint still loading the target model), and no mode retries
      `ModelError` (HTTP 424: the container answered 4xx/5xx) or `ValidationError`.
  `ModelNotReadyException` only, here: at most `not_ready_attempts` calls, waiting between them as botocore's own
      `ExponentialBackoff` computes (jitter, the 1 s throttling base scale, capped at `max_backoff` s). SageMaker's
      docs say to retry it: the model keeps loading (up to 360 s) while the caller is refused.
A `ModelError` is never retried: a 4xx is the caller's bug, a 5xx the model's, and neither heals by repeating.

Timeouts: SageMaker caps an invocation at 60 s; botocore retries read timeouts in every mode, so the read
timeout must exceed that cap (70 s, as SageMaker suggests) or a slow model is invoked again while it still works.
"""
from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.retries.standard import ExponentialBackoff, RetryContext

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 70.0  # SageMaker's 60 s invocation cap, plus headroom
MAX_ATTEMPTS = 3  # the standard mode's default: the first call and two retries
NOT_READY = "ModelNotReadyException"
NOT_READY_ATTEMPTS = 6
MAX_BACKOFF = 20.0  # seconds: botocore's own cap


def standard_retries(max_attempts: int = MAX_ATTEMPTS, **timeouts: float) -> Config:
    """botocore's `standard` retry mode, `max_attempts` calls in all, and any of Config's timeouts."""
    return Config(retries={"mode": "standard", "total_max_attempts": max_attempts}, **timeouts)


def runtime_config(max_attempts: int = MAX_ATTEMPTS, read_timeout: float = READ_TIMEOUT, connect_timeout: float = CONNECT_TIMEOUT) -> Config:
    return standard_retries(max_attempts, connect_timeout=connect_timeout, read_timeout=read_timeout)


def runtime_client(region: str, session: boto3.Session | None = None, endpoint_url: str | None = None, **config):
    """A `sagemaker-runtime` client with the standard retry mode and the timeouts above. AWS_ENDPOINT_URL* are
    honoured by boto3 itself (the local endpoint, an emulator)."""
    kwargs: dict[str, Any] = {"region_name": region, "config": runtime_config(**config)}
    if endpoint_url:
        kwargs["endpoint_url"] = endpoint_url
    return (session or boto3.Session()).client("sagemaker-runtime", **kwargs)


class _NotReadyIsThrottling:
    """Tells botocore's backoff to use its throttling base scale (1 s) for ModelNotReadyException."""

    def is_throttling_error_from_context(self, context: RetryContext) -> bool:
        return error_code(context.caught_exception) == NOT_READY


def error_code(error: BaseException | None) -> str | None:
    return error.response.get("Error", {}).get("Code") if isinstance(error, ClientError) else None


@dataclass(frozen=True)
class Answer:
    """What the endpoint answered: the body as bytes, its media type, and which variant answered."""

    body: bytes
    content_type: str
    variant: str
    attempts: int  # calls made, ModelNotReady retries included (botocore's own retries are inside each)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Prediction:
    """A JSON answer of the bundle's model: one class per row, and what came with it."""

    predictions: list[int]
    probabilities: list[list[float]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    variant: str = ""

    @classmethod
    def from_answer(cls, answer: Answer) -> "Prediction":
        document = answer.json()
        if not isinstance(document, dict) or not isinstance(document.get("predictions"), list):
            raise ValueError(f"the answer has no predictions list: {answer.body[:200]!r}")
        return cls(
            predictions=[int(p) for p in document["predictions"]],
            probabilities=[[float(x) for x in row] for row in document.get("probabilities", [])],
            labels=[str(label) for label in document.get("labels", [])],
            variant=answer.variant,
        )


class EndpointClient:
    """Invoke one endpoint: `invoke` (any body) or `predict` (rows of features -> Prediction)."""

    def __init__(
        self,
        endpoint_name: str,
        runtime=None,
        region: str | None = None,
        not_ready_attempts: int = NOT_READY_ATTEMPTS,
        max_backoff: float = MAX_BACKOFF,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
    ):
        if runtime is None and region is None:
            raise ValueError("give a sagemaker-runtime client or a region")
        if not_ready_attempts < 1:
            raise ValueError("not_ready_attempts must be at least 1")
        self.endpoint_name = endpoint_name
        self.runtime = runtime if runtime is not None else runtime_client(region)
        self.not_ready_attempts = not_ready_attempts
        self._backoff = ExponentialBackoff(max_backoff=max_backoff, random=rand, throttling_detector=_NotReadyIsThrottling())
        self._sleep = sleep

    def invoke(
        self,
        body: bytes | str,
        content_type: str = "application/json",
        accept: str | None = "application/json",
        target_model: str | None = None,
        target_variant: str | None = None,
        inference_id: str | None = None,  # recorded with the captured data: the key its ground truth is written under
    ) -> Answer:
        """One invocation; raises botocore's ClientError for what is not retried (ModelError, ValidationError, ...)
        and for ModelNotReadyException once `not_ready_attempts` calls were refused."""
        request: dict[str, Any] = {"EndpointName": self.endpoint_name, "Body": body, "ContentType": content_type}
        if accept:
            request["Accept"] = accept
        if target_model:
            request["TargetModel"] = target_model
        if target_variant:
            request["TargetVariant"] = target_variant
        if inference_id:
            request["InferenceId"] = inference_id
        attempt = 1
        while True:
            try:
                response = self.runtime.invoke_endpoint(**request)
            except ClientError as error:
                if error_code(error) != NOT_READY or attempt >= self.not_ready_attempts:
                    raise
                self._sleep(self._backoff.delay_amount(RetryContext(attempt_number=attempt, caught_exception=error)))
                attempt += 1
                continue
            return Answer(
                body=response["Body"].read(),
                content_type=response.get("ContentType", ""),
                variant=response.get("InvokedProductionVariant", ""),
                attempts=attempt,
            )

    def predict(self, rows: list[list[float]], target_model: str | None = None, target_variant: str | None = None) -> Prediction:
        answer = self.invoke(json.dumps({"instances": rows}), target_model=target_model, target_variant=target_variant)
        return Prediction.from_answer(answer)
