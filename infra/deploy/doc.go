// Package deploy holds no code: it is the home of the deployment files (the Dockerfile, the
// Prometheus configuration and alert rules, Grafana's provisioning and dashboard, the
// OpenTelemetry collector's configuration and the Kubernetes manifests under k8s/) and of the
// tests that load them with the tools' own libraries, the repository's docker-compose.yml
// included. Their dependencies (compose's loader, the Kubernetes API types) stay in this package's
// tests so that no other package builds them.
package deploy
