"""The Pod Identity admission webhook: a pure `review` function and its HTTPS transport.

- `podid.webhook.mutate.review(admission_review, config, identities, service_accounts, rng)`
- `podid.webhook.admit.admit_pod(pod, namespace, config, identities, ...)` for in-process admission
- `podid.webhook.config`: `WebhookConfig`, the `IdentitySource`/`ServiceAccountSource` protocols
- `podid.webhook.identities`: the identities file and EKS API sources of the standalone server
- `podid.webhook.server`: `make_app`, `WebhookServer`, `tls_context`
"""
