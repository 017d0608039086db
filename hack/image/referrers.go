package main

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// An OCI 1.1 referrer: an artifact manifest whose subject is the image, found by the image's
// digest through the registry's referrers API (or the tag schema a registry without it gets).
// Admission policies (Kyverno, Ratify, Sigstore's policy controller) read an image's SBOM,
// provenance and signatures so.

// rawManifest is a manifest pushed as its bytes.
type rawManifest struct {
	body      []byte
	mediaType types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.body, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mediaType, nil }

// pushReferrer pushes blob, of artifactType, into repo as an artifact about subject, and
// returns the artifact manifest's digest.
func pushReferrer(repo name.Repository, subject v1.Descriptor, artifactType string, blob []byte, opts ...remote.Option) (v1.Hash, error) {
	emptyConfig := static.NewLayer([]byte("{}"), types.OCIEmptyJSON)
	content := static.NewLayer(blob, types.MediaType(artifactType))
	descriptors := make([]v1.Descriptor, 2)
	for i, layer := range []v1.Layer{emptyConfig, content} {
		if err := remote.WriteLayer(repo, layer, opts...); err != nil {
			return v1.Hash{}, fmt.Errorf("pushing a blob of %s: %w", artifactType, err)
		}
		digest, err := layer.Digest()
		if err != nil {
			return v1.Hash{}, err
		}
		size, err := layer.Size()
		if err != nil {
			return v1.Hash{}, err
		}
		mediaType, err := layer.MediaType()
		if err != nil {
			return v1.Hash{}, err
		}
		descriptors[i] = v1.Descriptor{MediaType: mediaType, Digest: digest, Size: size}
	}
	subject = v1.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}
	manifest := v1.Manifest{
		SchemaVersion: 2, MediaType: types.OCIManifestSchema1, ArtifactType: artifactType,
		Config: descriptors[0], Layers: descriptors[1:], Subject: &subject,
	}
	body, err := json.Marshal(manifest)
	if err != nil {
		return v1.Hash{}, err
	}
	digest, _, err := v1.SHA256(bytes.NewReader(body))
	if err != nil {
		return v1.Hash{}, err
	}
	if err := remote.Put(repo.Digest(digest.String()), rawManifest{body, types.OCIManifestSchema1}, opts...); err != nil {
		return v1.Hash{}, fmt.Errorf("pushing the %s artifact: %w", artifactType, err)
	}
	return digest, nil
}
