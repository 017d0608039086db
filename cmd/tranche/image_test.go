package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"maps"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	cyclonedx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/test/harness"
)

// The image make image builds, as a cluster gets it: pushed to a registry, pulled back by
// its digest, its config as a container runtime reads it, and the manager from its one layer
// carrying out a rollout against the API server. Two builds of one source have one digest.
func TestTheImage(t *testing.T) {
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(reg.Close)
	repo := strings.TrimPrefix(reg.URL, "http://") + "/tranche"
	labels := []string{"-version", "v0.1.0-test", "-revision", "0123abcd", "-created", "1700000000"}
	pushedLayout := t.TempDir()
	key, keyFile := signingKey(t)
	digest := makeImage(t, append(labels, "-layout", pushedLayout, "-push", repo+":v0.1.0-test", "-sign-key", keyFile)...)
	assert.Equal(t, digest, makeImage(t, append(labels, "-layout", t.TempDir())...), "two builds of one source, two digests")
	index, err := layout.ImageIndexFromPath(pushedLayout)
	require.NoError(t, err)
	manifest, err := index.IndexManifest()
	require.NoError(t, err)
	require.Len(t, manifest.Manifests, 1)
	assert.Equal(t, digest, manifest.Manifests[0].Digest.String(), "the OCI layout holds the image pushed")

	ref, err := name.NewDigest(repo + "@" + digest)
	require.NoError(t, err)
	img, err := remote.Image(ref)
	require.NoError(t, err)
	pulled, err := img.Digest()
	require.NoError(t, err)
	require.Equal(t, digest, pulled.String())
	cfg, err := img.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, []string{"/tranche"}, cfg.Config.Entrypoint)
	assert.Empty(t, cfg.Config.Cmd)
	assert.Equal(t, "65532:65532", cfg.Config.User, "a user that is not root")
	assert.Equal(t, "linux", cfg.OS)
	assert.Equal(t, runtime.GOARCH, cfg.Architecture)
	assert.Equal(t, time.Unix(1700000000, 0).UTC(), cfg.Created.UTC())
	assert.Equal(t, map[string]string{
		"org.opencontainers.image.title":    "tranche",
		"org.opencontainers.image.source":   "https://github.com/tranche-dev/tranche",
		"org.opencontainers.image.version":  "v0.1.0-test",
		"org.opencontainers.image.revision": "0123abcd",
		"org.opencontainers.image.created":  "2023-11-14T22:13:20Z",
	}, cfg.Config.Labels)

	layers, err := img.Layers()
	require.NoError(t, err)
	require.Len(t, layers, 1)
	files, err := harness.LayerFiles(layers[0])
	require.NoError(t, err)
	require.Equal(t, []string{"kubectl-tranche", "tranche"}, slices.Sorted(maps.Keys(files)),
		"the manager and the plugin (whose dashboard the chart serves to a team) alone: no shell, no other file")
	modules := map[string]string{}
	dir := t.TempDir()
	for name, file := range files {
		binary := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(binary, file.Data, os.FileMode(file.Mode)))
		assert.Equal(t, int64(0o555), file.Mode, "%s: runnable by any user, writable by none", name)
		exe, err := elf.Open(binary)
		require.NoError(t, err)
		for _, prog := range exe.Progs {
			assert.NotEqual(t, elf.PT_INTERP, prog.Type, "%s is static: the image has no dynamic loader", name)
		}
		require.NoError(t, exe.Close())
		maps.Copy(modules, modulesOf(t, binary))
	}
	binary := filepath.Join(dir, "tranche")
	assert.Equal(t, modules, sbomModules(t, ref), "the SBOM beside the image lists the modules go version -m reports of its binaries")
	out, err := exec.Command(filepath.Join(dir, "kubectl-tranche"), "dashboard", "--help").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "--serve", "the image's plugin serves the dashboard to a team")
	built := provenanceOf(t, ref)
	assert.Equal(t, "https://slsa.dev/provenance/v1", built["predicateType"])
	assert.Equal(t, []any{map[string]any{"name": repo, "digest": map[string]any{"sha256": strings.TrimPrefix(digest, "sha256:")}}}, built["subject"],
		"the provenance is about the image pushed")
	definition := built["predicate"].(map[string]any)["buildDefinition"].(map[string]any)
	assert.Equal(t, []any{map[string]any{"uri": "git+https://github.com/tranche-dev/tranche@0123abcd", "digest": map[string]any{"gitCommit": "0123abcd"}}},
		definition["resolvedDependencies"], "it names the source and its commit")
	assert.Equal(t, "v0.1.0-test", definition["externalParameters"].(map[string]any)["version"])

	// Its signature verifies with Sigstore's verifier and the public key, for this image alone.
	pushed, err := remote.Get(ref)
	require.NoError(t, err)
	require.NoError(t, verifySignature(t, ref, pushed.Manifest, &key.PublicKey), "the image's signature")
	tampered := append(bytes.Clone(pushed.Manifest), ' ')
	assert.Error(t, verifySignature(t, ref, tampered, &key.PublicKey), "a signature that verifies another image")
	other, _ := signingKey(t)
	assert.Error(t, verifySignature(t, ref, pushed.Manifest, &other.PublicKey), "a signature that verifies with another key")

	runsARollout(t, binary)
}

// referrer is the one artifact of artifactType among the image's OCI referrers: its content.
func referrer(t *testing.T, image name.Digest, artifactType string) io.Reader {
	t.Helper()
	referrers, err := remote.Referrers(image)
	require.NoError(t, err)
	index, err := referrers.IndexManifest()
	require.NoError(t, err)
	var found []name.Digest
	for _, d := range index.Manifests {
		if d.ArtifactType == artifactType {
			found = append(found, image.Context().Digest(d.Digest.String()))
		}
	}
	require.Len(t, found, 1, "one %s among the image's referrers: %+v", artifactType, index.Manifests)
	artifact, err := remote.Image(found[0])
	require.NoError(t, err)
	layers, err := artifact.Layers()
	require.NoError(t, err)
	require.Len(t, layers, 1)
	blob, err := layers[0].Compressed() // the content as pushed
	require.NoError(t, err)
	data, err := io.ReadAll(blob)
	require.NoError(t, err)
	require.NoError(t, blob.Close())
	return bytes.NewReader(data)
}

// sbomModules reads the CycloneDX SBOM beside the image: the versions of the modules it
// lists, by path.
func sbomModules(t *testing.T, image name.Digest) map[string]string {
	t.Helper()
	var bom cyclonedx.BOM
	require.NoError(t, cyclonedx.NewBOMDecoder(referrer(t, image, "application/vnd.cyclonedx+json"), cyclonedx.BOMFileFormatJSON).Decode(&bom))
	require.NotNil(t, bom.Metadata)
	require.NotNil(t, bom.Metadata.Component)
	assert.Equal(t, "github.com/tranche-dev/tranche", bom.Metadata.Component.Name)
	require.NotNil(t, bom.Components)
	modules := map[string]string{}
	for _, c := range *bom.Components {
		modules[c.Name] = c.Version
	}
	return modules
}

// signingKey is a new ECDSA P-256 key, and a PEM file (PKCS #8) holding it.
func signingKey(t *testing.T) (*ecdsa.PrivateKey, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "signing-key.pem")
	require.NoError(t, os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
	return key, file
}

// verifySignature verifies the Sigstore bundle beside the image with Sigstore's verifier,
// trusting public alone (no certificate authority, no transparency log), as the signature of
// manifest.
func verifySignature(t *testing.T, image name.Digest, manifest []byte, public *ecdsa.PublicKey) error {
	t.Helper()
	data, err := io.ReadAll(referrer(t, image, "application/vnd.dev.sigstore.bundle.v0.3+json"))
	require.NoError(t, err)
	var signed bundle.Bundle
	require.NoError(t, signed.UnmarshalJSON(data))
	verifier, err := signature.LoadECDSAVerifier(public, crypto.SHA256)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(public)
	require.NoError(t, err)
	hint := sha256.Sum256(der)
	trusted := root.NewTrustedPublicKeyMaterialFromMapping(map[string]*root.ExpiringKey{
		hex.EncodeToString(hint[:]): root.NewExpiringKey(verifier, time.Time{}, time.Time{}),
	})
	v, err := verify.NewVerifier(trusted, verify.WithNoObserverTimestamps())
	require.NoError(t, err)
	_, err = v.Verify(&signed, verify.NewPolicy(verify.WithArtifact(bytes.NewReader(manifest)), verify.WithKey()))
	return err
}

// provenanceOf reads the SLSA provenance beside the image: an in-toto statement.
func provenanceOf(t *testing.T, image name.Digest) map[string]any {
	t.Helper()
	var statement map[string]any
	require.NoError(t, json.NewDecoder(referrer(t, image, "application/vnd.in-toto+json")).Decode(&statement))
	return statement
}

// modulesOf is what `go version -m` says of a binary's dependencies: each module's path and
// the version built (a replacement's, where one replaces it).
func modulesOf(t *testing.T, binary string) map[string]string {
	t.Helper()
	out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "version", "-m", binary).Output()
	require.NoError(t, err)
	modules := map[string]string{}
	var last string
	for _, line := range strings.Split(string(out), "\n") {
		fields := strings.Fields(line)
		switch {
		case len(fields) >= 3 && fields[0] == "dep":
			last = fields[1]
			modules[last] = fields[2]
		case len(fields) >= 3 && fields[0] == "=>":
			modules[last] = fields[2]
		}
	}
	require.NotEmpty(t, modules, "go version -m %s: %s", binary, out)
	return modules
}

// runsARollout runs binary as the manager of a namespace and releases a new version of a
// Deployment through it: blue/green, a short hold on each side.
func runsARollout(t *testing.T, binary string) {
	ctx := context.Background()
	ns := cp.Namespace(t)
	startManagerBinary(t, binary, "--leader-elect=false", "--namespaces="+ns)
	require.NoError(t, cp.Client.Create(ctx, harness.Deployment(ns, "podinfo", "podinfo:6.0.0")))
	ro := blueGreen(ns, time.Second)
	require.NoError(t, cp.Client.Create(ctx, ro))
	waitForReady(t, ro, metav1.ConditionTrue)
	require.NoError(t, harness.SetImage(ctx, cp.Client, ns, "podinfo", "podinfo:6.1.0"))
	require.Eventually(t, func() bool {
		got := &trancheapi.Rollout{}
		return cp.Client.Get(ctx, client.ObjectKeyFromObject(ro), got) == nil &&
			got.Status.Phase == trancheapi.PhaseSucceeded && got.Status.StableRevision == got.Status.CanaryRevision
	}, time.Minute, 100*time.Millisecond, "the image's manager did not carry out the rollout")
	primary := &appsv1.Deployment{}
	require.NoError(t, cp.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "podinfo-primary"}, primary))
	assert.Equal(t, "podinfo:6.1.0", primary.Spec.Template.Spec.Containers[0].Image)
}

// makeImage runs make image's program with args from the module's root and returns the
// digest it prints.
func makeImage(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), append([]string{"run", "./hack/image"}, args...)...)
	cmd.Dir = filepath.Join("..", "..")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "go run ./hack/image: %s", stderr.String())
	digest := strings.TrimSpace(string(out))
	require.True(t, strings.HasPrefix(digest, "sha256:"), "the program printed %q, not a digest", digest)
	return digest
}
