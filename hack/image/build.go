package main

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The manager's place in the image, and the user it runs as: the one distroless images
// call nonroot, which the chart's securityContext names too.
const (
	entrypoint = "/tranche"
	nonRoot    = "65532:65532"
)

// imageSpec is what the image is made of.
type imageSpec struct {
	Binary                    []byte
	Platform                  v1.Platform
	Version, Revision, Source string
	Created                   time.Time
}

// labels are the OCI annotations' keys, as image labels.
func (s imageSpec) labels() map[string]string {
	labels := map[string]string{
		"org.opencontainers.image.title":   "tranche",
		"org.opencontainers.image.source":  s.Source,
		"org.opencontainers.image.version": s.Version,
		"org.opencontainers.image.created": s.Created.Format(time.RFC3339),
	}
	if s.Revision != "" {
		labels["org.opencontainers.image.revision"] = s.Revision
	}
	return labels
}

// build makes the image: one layer holding the binary, on nothing. The manager needs no
// shell, no C library (it is static) and no CA bundle (it carries Go's fallback roots).
func build(s imageSpec) (v1.Image, error) {
	layerTar, err := binaryLayer(s.Binary, s.Created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	if img, err = mutate.AppendLayers(img, layer); err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture, cfg.Variant = s.Platform.OS, s.Platform.Architecture, s.Platform.Variant
	cfg.Created = v1.Time{Time: s.Created}
	cfg.Config.Entrypoint = []string{entrypoint}
	cfg.Config.User = nonRoot
	cfg.Config.WorkingDir = "/"
	cfg.Config.Labels = s.labels()
	cfg.History = []v1.History{{Created: v1.Time{Time: s.Created}, CreatedBy: "hack/image: the manager binary", Comment: "make image"}}
	return mutate.ConfigFile(img, cfg)
}

// binaryLayer is a tar of the binary alone, owned by root, readable and runnable by all,
// dated created.
func binaryLayer(binary []byte, created time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdr := &tar.Header{
		Typeflag: tar.TypeReg, Name: entrypoint[1:], Size: int64(len(binary)), Mode: 0o555,
		ModTime: created, Format: tar.FormatUSTAR,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write(binary); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeLayout writes img as the only image of an OCI layout at dir, tagged version.
func writeLayout(dir string, img v1.Image, version string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	return p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": version}))
}
