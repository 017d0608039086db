package harness

import (
	"archive/tar"
	"errors"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// LayerFile is one file of an image layer.
type LayerFile struct {
	Mode int64
	Data []byte
}

// LayerFiles reads an image layer's files by name.
func LayerFiles(layer v1.Layer) (map[string]LayerFile, error) {
	rc, err := layer.Uncompressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	files := map[string]LayerFile{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, nil
		}
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		files[hdr.Name] = LayerFile{Mode: hdr.Mode, Data: data}
	}
}
