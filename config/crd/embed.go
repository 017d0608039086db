// Package crd holds Tranche's CustomResourceDefinitions as controller-gen writes them into
// bases/, for programs that need the schemas without a cluster (`kubectl tranche lint`).
package crd

import "embed"

// Bases are the CRD manifests, one file per kind.
//
//go:embed bases/*.yaml
var Bases embed.FS
