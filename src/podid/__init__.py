"""podid: EKS Pod Identity, runnable anywhere.

An AWS-compatible endpoint (IAM, STS, EKS, EKS Auth, S3, CloudFormation) with strict SigV4 and IAM
policy evaluation, the node agent, the admission webhook and a local cluster runtime.
"""

__version__ = "0.1.0"
