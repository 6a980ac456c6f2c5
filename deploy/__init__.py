"""Deployment: the nginx site template and the local cluster launcher (deploy/README.md)."""
