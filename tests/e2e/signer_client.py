"""Run by tests/e2e/test_signers.py in a fresh interpreter, once with and once without awscrt.

Whether botocore signs with its Python SigV4 signer or the CRT one is decided when botocore is first
imported (`BOTO_DISABLE_CRT`), so each signer needs its own process. Reads a JSON job on stdin (the
endpoint, admin and node credentials, a pod token, a label), drives IAM, STS, EKS, EKS Auth and S3
with boto3, and prints a JSON report of what it saw: the signer classes in use, each call's result,
and the refusals of deliberately wrong signatures.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from typing import Any

import boto3
import botocore.auth
from botocore.config import Config
from botocore.exceptions import ClientError


def main() -> None:
    job: dict[str, Any] = json.load(sys.stdin)
    url, label, region = job["url"], job["label"], job["region"]

    def client(service: str, creds: dict[str, str]) -> Any:
        return boto3.session.Session().client(
            service,
            endpoint_url=url,
            region_name=region,
            config=Config(retries={"max_attempts": 1}),
            aws_access_key_id=creds["key"],
            aws_secret_access_key=creds["secret"],
            aws_session_token=creds.get("token"),
        )

    def refusal(call: Any, **kwargs: Any) -> list[Any]:
        try:
            call(**kwargs)
        except ClientError as err:
            return [err.response["Error"]["Code"], err.response["ResponseMetadata"]["HTTPStatusCode"]]
        return ["accepted", 200]

    admin = job["admin"]
    wrong = {**admin, "secret": admin["secret"][:-1] + ("x" if admin["secret"][-1] != "x" else "y")}
    report: dict[str, Any] = {
        "signers": {
            name: botocore.auth.AUTH_TYPE_MAPS[name].__module__ for name in ("v4", "s3v4", "v4-query")
        },
    }

    # IAM (query protocol, POST form) with characters that need encoding
    iam = client("iam", admin)
    role = f"signer-{label}"
    iam.create_role(
        RoleName=role,
        Path=f"/signers/{label}/",
        Description="Signed by botocore: spaces, ü, +/=,.@-_ and ~",
        AssumeRolePolicyDocument=job["trust"],
        Tags=[{"Key": "k=/+", "Value": "v ü"}],
    )
    report["iam"] = iam.get_role(RoleName=role)["Role"]["Description"]
    report["iam_list"] = [r["RoleName"] for r in iam.list_roles(PathPrefix=f"/signers/{label}/")["Roles"]]

    # STS (query protocol), then temporary credentials (the session token is a signed header)
    sts = client("sts", admin)
    report["sts"] = sts.get_caller_identity()["Arn"]
    assumed = sts.assume_role(
        RoleArn=job["app_role"], RoleSessionName=f"sig-{label}", Tags=[{"Key": "team", "Value": "a b/c"}]
    )["Credentials"]
    temp = {
        "key": assumed["AccessKeyId"],
        "secret": assumed["SecretAccessKey"],
        "token": assumed["SessionToken"],
    }
    report["sts_session"] = client("sts", temp).get_caller_identity()["Arn"]
    get_url = sts.generate_presigned_url("get_caller_identity", HttpMethod="GET", ExpiresIn=60)
    with urllib.request.urlopen(get_url, timeout=10) as response:
        report["sts_presigned"] = response.status
    report["sts_wrong"] = refusal(client("sts", wrong).get_caller_identity)

    # EKS (rest-json: paths, query strings, JSON bodies)
    eks = client("eks", admin)
    report["eks_clusters"] = eks.list_clusters()["clusters"]
    assoc = eks.create_pod_identity_association(
        clusterName="demo-cluster", namespace=f"ns-{label}", serviceAccount="sa", roleArn=job["pod_role"]
    )["association"]
    listed = eks.list_pod_identity_associations(
        clusterName="demo-cluster", namespace=f"ns-{label}", maxResults=5
    )
    report["eks_listed"] = [a["associationId"] == assoc["associationId"] for a in listed["associations"]]
    report["eks_wrong"] = refusal(client("eks", wrong).list_clusters)

    # EKS Auth (rest-json) as the node, with the pod's token
    auth = client("eks-auth", job["node"])
    out = auth.assume_role_for_pod_identity(clusterName="demo-cluster", token=job["tokens"][label])
    report["eks_auth"] = out["assumedRoleUser"]["arn"]
    report["eks_auth_wrong"] = refusal(
        client("eks-auth", {**job["node"], "secret": wrong["secret"]}).assume_role_for_pod_identity,
        clusterName="demo-cluster",
        token=job["tokens"][label],
    )
    eks.delete_pod_identity_association(clusterName="demo-cluster", associationId=assoc["associationId"])

    # S3 (rest-xml, s3v4: unnormalised paths, payload hashes, presigned URLs)
    s3 = client("s3", admin)
    bucket = f"signer-{label}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    key = "dir/ü x+y=z.txt"
    s3.put_object(Bucket=bucket, Key=key, Body=b"signed " * 1000)
    report["s3_get"] = len(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    report["s3_list"] = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="dir/")["Contents"]]
    presigned = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=60)
    with urllib.request.urlopen(presigned, timeout=10) as response:
        report["s3_presigned"] = len(response.read())
    report["s3_wrong"] = refusal(client("s3", wrong).get_object, Bucket=bucket, Key=key)
    s3.delete_object(Bucket=bucket, Key=key)
    s3.delete_bucket(Bucket=bucket)
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
