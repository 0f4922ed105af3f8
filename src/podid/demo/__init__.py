"""`podid demo`: the EKS Pod Identity walkthrough, run end to end against a private podid."""
