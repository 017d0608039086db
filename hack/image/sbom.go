package main

import (
	"bytes"
	"debug/buildinfo"
	"fmt"
	"time"

	cyclonedx "github.com/CycloneDX/cyclonedx-go"
)

// sbomMediaType is a CycloneDX document's, as the artifact type of the SBOM pushed beside the
// image.
const sbomMediaType = "application/vnd.cyclonedx+json"

// sbom is the manager's software bill of materials, a CycloneDX document: the Go modules its
// binary was built from, as the Go toolchain recorded them in it (what `go version -m` prints),
// each the version built (a replaced module's replacement). It depends on nothing but the
// binary and the creation time, so two builds of one source give the same document.
func sbom(binary []byte, version string, created time.Time) ([]byte, error) {
	info, err := buildinfo.Read(bytes.NewReader(binary))
	if err != nil {
		return nil, fmt.Errorf("reading the manager's build information: %w", err)
	}
	main := cyclonedx.Component{
		Type: cyclonedx.ComponentTypeApplication, Name: info.Main.Path, Version: version,
		BOMRef: "pkg:golang/" + info.Main.Path + "@" + version, PackageURL: "pkg:golang/" + info.Main.Path + "@" + version,
	}
	components := make([]cyclonedx.Component, 0, len(info.Deps))
	dependsOn := make([]string, 0, len(info.Deps))
	for _, dep := range info.Deps {
		built := dep
		if dep.Replace != nil {
			built = dep.Replace
		}
		purl := "pkg:golang/" + dep.Path + "@" + built.Version
		c := cyclonedx.Component{Type: cyclonedx.ComponentTypeLibrary, Name: dep.Path, Version: built.Version, BOMRef: purl, PackageURL: purl}
		if built.Sum != "" {
			// Go's h1: hash of the module's files, which go.sum holds; CycloneDX has no
			// algorithm for it, so it goes as a property.
			c.Properties = &[]cyclonedx.Property{{Name: "go:module:sum", Value: built.Sum}}
		}
		components = append(components, c)
		dependsOn = append(dependsOn, purl)
	}
	bom := cyclonedx.NewBOM()
	bom.Metadata = &cyclonedx.Metadata{Timestamp: created.UTC().Format(time.RFC3339), Component: &main}
	bom.Components = &components
	bom.Dependencies = &[]cyclonedx.Dependency{{Ref: main.BOMRef, Dependencies: &dependsOn}}
	var out bytes.Buffer
	encoder := cyclonedx.NewBOMEncoder(&out, cyclonedx.BOMFileFormatJSON)
	encoder.SetPretty(true)
	if err := encoder.Encode(bom); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
