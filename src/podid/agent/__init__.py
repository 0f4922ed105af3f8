"""The node agent: a drop-in `eks-pod-identity-agent` (see docs/agent.md).

In the shape of the real agent: `EksAuthClient` (a `CredentialRetriever` calling EKS Auth, SigV4-signed
with the node's credentials) wrapped by `CachingRetriever` (the credential cache), served by `Agent`
(credential, probe and metrics listeners) and assembled by `app.build_agent` / `app.run_agent`;
`netinit.LinkInitializer` is `podid agent init`.
"""
