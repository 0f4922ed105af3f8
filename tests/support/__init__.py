"""Helpers shared by test packages (and benchmarks): ports, error assertions.

Endpoint-facing helpers (an endpoint in a thread, boto3 clients, the aws CLI runner) live on
`podid.gateway.testing`, which benchmarks and the demo also use.
"""
