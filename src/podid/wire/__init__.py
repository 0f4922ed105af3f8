"""AWS wire protocols driven by botocore's service models, and SigV4 verification.

Nothing here imports an HTTP framework: the gateway hands in an `HttpRequest` and receives an
`HttpResponse` (see `podid.wire.http`).
"""
