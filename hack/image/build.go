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

// The manager's place in the image, the plugin's (whose dashboard the chart can serve to a
// team from the same image), and the user they run as: the one distroless images call
// nonroot, which the chart's securityContext names too.
const (
	entrypoint = "/tranche"
	pluginPath = "/kubectl-tranche"
	nonRoot    = "65532:65532"
)

// imageSpec is what the image is made of.
type imageSpec struct {
	// Files are the binaries, the manager (the entrypoint) first.
	Files                     []imageFile
	Platform                  v1.Platform
	Version, Revision, Source string
	Created                   time.Time
}

// imageFile is a binary of the image and where it goes.
type imageFile struct {
	Path string
	Data []byte
}

// binaries are the contents of the image's binaries.
func (s imageSpec) binaries() [][]byte {
	var out [][]byte
	for _, f := range s.Files {
		out = append(out, f.Data)
	}
	return out
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

// build makes the image: one layer holding the binaries, on nothing. They need no shell, no
// C library (they are static) and no CA bundle (the manager carries Go's fallback roots).
func build(s imageSpec) (v1.Image, error) {
	layerTar, err := binaryLayer(s.Files, s.Created)
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
	cfg.History = []v1.History{{Created: v1.Time{Time: s.Created}, CreatedBy: "hack/image: the manager and plugin binaries", Comment: "make image"}}
	return mutate.ConfigFile(img, cfg)
}

// binaryLayer is a tar of the binaries alone, owned by root, readable and runnable by all,
// dated created.
func binaryLayer(files []imageFile, created time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		hdr := &tar.Header{
			Typeflag: tar.TypeReg, Name: f.Path[1:], Size: int64(len(f.Data)), Mode: 0o555,
			ModTime: created, Format: tar.FormatUSTAR,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return nil, err
		}
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
