// Package chart tests the Helm chart in charts/tranche with Helm's own Go SDK: lint, the
// rendered objects, install, upgrade and uninstall against a real API server. It is a module
// of its own so that Helm's dependencies do not move those the manager and the control-plane
// binaries are built with.
package chart
