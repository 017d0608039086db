package main

import (
	"bytes"
	"debug/buildinfo"
	"fmt"
	"runtime/debug"
	"time"

	cyclonedx "github.com/CycloneDX/cyclonedx-go"
)

// sbomMediaType is a CycloneDX document's, as the artifact type of the SBOM pushed beside the
// image.
const sbomMediaType = "application/vnd.cyclonedx+json"

// sbom is the image's software bill of materials, a CycloneDX document: the Go modules its
// binaries were built from, as the Go toolchain recorded them in each (what `go version -m`
// prints), each the version built (a replaced module's replacement), once. It depends on
// nothing but the binaries and the creation time, so two builds of one source give the same
// document.
func sbom(binaries [][]byte, version string, created time.Time) ([]byte, error) {
	var info *debug.BuildInfo
	var deps []*debug.Module
	for _, binary := range binaries {
		read, err := buildinfo.Read(bytes.NewReader(binary))
		if err != nil {
			return nil, fmt.Errorf("reading a binary's build information: %w", err)
		}
		info = read
		deps = append(deps, read.Deps...)
	}
	main := cyclonedx.Component{
		Type: cyclonedx.ComponentTypeApplication, Name: info.Main.Path, Version: version,
		BOMRef: "pkg:golang/" + info.Main.Path + "@" + version, PackageURL: "pkg:golang/" + info.Main.Path + "@" + version,
	}
	components := make([]cyclonedx.Component, 0, len(deps))
	dependsOn := make([]string, 0, len(deps))
	listed := map[string]bool{}
	for _, dep := range deps {
		built := dep
		if dep.Replace != nil {
			built = dep.Replace
		}
		purl := "pkg:golang/" + dep.Path + "@" + built.Version
		if listed[purl] {
			continue
		}
		listed[purl] = true
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
