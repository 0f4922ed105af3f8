"""eksctl for podid: `ClusterConfig` files (schema, config) and eksctl's actions over podid's AWS APIs."""
