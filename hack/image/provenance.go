package main

import (
	"bytes"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// provenanceMediaType is an in-toto statement's, as the artifact type of the provenance pushed
// beside the image.
const provenanceMediaType = "application/vnd.in-toto+json"

// The SLSA v1 build provenance of the image, an in-toto statement whose subject is the image:
// what was built (this program's build type), from which source and commit, with which Go and
// build settings. Its fields are SLSA's (https://slsa.dev/spec/v1.0/provenance).
type (
	statement struct {
		Type          string    `json:"_type"`
		Subject       []subject `json:"subject"`
		PredicateType string    `json:"predicateType"`
		Predicate     slsaBuild `json:"predicate"`
	}
	subject struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	}
	slsaBuild struct {
		BuildDefinition buildDefinition `json:"buildDefinition"`
		RunDetails      runDetails      `json:"runDetails"`
	}
	buildDefinition struct {
		BuildType            string            `json:"buildType"`
		ExternalParameters   map[string]string `json:"externalParameters"`
		InternalParameters   map[string]string `json:"internalParameters"`
		ResolvedDependencies []resource        `json:"resolvedDependencies"`
	}
	resource struct {
		URI    string            `json:"uri"`
		Digest map[string]string `json:"digest"`
	}
	runDetails struct {
		Builder struct {
			ID string `json:"id"`
		} `json:"builder"`
	}
)

// provenance says how the image named name, of digest, was built from spec.
func provenance(name string, digest v1.Hash, spec imageSpec) ([]byte, error) {
	info, err := buildinfo.Read(bytes.NewReader(spec.Files[0].Data)) // both binaries are built alike
	if err != nil {
		return nil, fmt.Errorf("reading the manager's build information: %w", err)
	}
	internal := map[string]string{"go": info.GoVersion}
	for _, s := range info.Settings {
		if strings.HasPrefix(s.Key, "-") || strings.ToUpper(s.Key) == s.Key { // -trimpath, -ldflags, CGO_ENABLED, GOOS, GOARCH...
			internal[s.Key] = s.Value
		}
	}
	source := resource{URI: "git+" + spec.Source}
	if spec.Revision != "" {
		source.URI += "@" + spec.Revision
		source.Digest = map[string]string{"gitCommit": spec.Revision}
	}
	st := statement{
		Type:          "https://in-toto.io/Statement/v1",
		Subject:       []subject{{Name: name, Digest: map[string]string{digest.Algorithm: digest.Hex}}},
		PredicateType: "https://slsa.dev/provenance/v1",
		Predicate: slsaBuild{BuildDefinition: buildDefinition{
			BuildType: spec.Source + "/hack/image@v1",
			ExternalParameters: map[string]string{
				"version": spec.Version, "revision": spec.Revision, "platform": spec.Platform.OS + "/" + spec.Platform.Architecture,
			},
			InternalParameters:   internal,
			ResolvedDependencies: []resource{source},
		}},
	}
	st.Predicate.RunDetails.Builder.ID = spec.Source + "/hack/image (" + runtime.Version() + ")"
	return json.MarshalIndent(st, "", "  ")
}
