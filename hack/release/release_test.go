package main

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// krewManifest is the part of a krew Plugin the checks read.
type krewManifest struct {
	Kind string `json:"kind"`
	Spec struct {
		Version          string `json:"version"`
		ShortDescription string `json:"shortDescription"`
		Platforms        []struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			URI    string `json:"uri"`
			SHA256 string `json:"sha256"`
			Bin    string `json:"bin"`
		} `json:"platforms"`
	} `json:"spec"`
}

// Every platform of a release has its archive, which the krew manifest names by a URL under
// the release's, with its sha256 (as checksums.txt says too), for krew to install the binary
// the entry names.
func TestTheKrewManifestInstallsEveryArchive(t *testing.T) {
	out := t.TempDir()
	r := release{
		Version: "v0.1.0", Out: out, URL: "https://example.test/releases/v0.1.0/",
		Template: filepath.Join("..", "..", "config", "krew", "tranche.yaml"), Platforms: platforms,
		Build: func(p platform, version, file string) error {
			return os.WriteFile(file, []byte("the plugin "+version+" for "+p.String()), 0o755)
		},
	}
	require.NoError(t, r.write())

	var m krewManifest
	require.NoError(t, yaml.Unmarshal(readFile(t, filepath.Join(out, "tranche.yaml")), &m))
	assert.Equal(t, "Plugin", m.Kind)
	assert.Equal(t, "v0.1.0", m.Spec.Version)
	assert.NotEmpty(t, m.Spec.ShortDescription, "the template's text is kept")
	require.Len(t, m.Spec.Platforms, len(platforms))
	checksums := string(readFile(t, filepath.Join(out, "checksums.txt")))
	for i, entry := range m.Spec.Platforms {
		p := platforms[i]
		assert.Equal(t, map[string]string{"os": p.OS, "arch": p.Arch}, entry.Selector.MatchLabels)
		archive, found := strings.CutPrefix(entry.URI, "https://example.test/releases/v0.1.0/")
		require.True(t, found, "%s is not under the release's URL", entry.URI)
		data := readFile(t, filepath.Join(out, archive))
		sum := sha256.Sum256(data)
		assert.Equal(t, hex.EncodeToString(sum[:]), entry.SHA256, "the sha256 of %s", archive)
		assert.Contains(t, checksums, entry.SHA256+"  "+archive+"\n")
		files := untarGz(t, filepath.Join(out, archive))
		require.Contains(t, files, entry.Bin, "%s holds the binary its entry names", archive)
		assert.Equal(t, "the plugin v0.1.0 for "+p.String(), files[entry.Bin])
		assert.Equal(t, p.OS == "windows", strings.HasSuffix(entry.Bin, ".exe"), entry.Bin)
	}
}

// Two releases of one version from one source are the same bytes.
func TestAReleaseIsTheSameBytesTwice(t *testing.T) {
	sums := make([]string, 2)
	for i := range sums {
		out := t.TempDir()
		r := release{Version: "v0.1.0", Out: out, URL: "https://example.test", Template: filepath.Join("..", "..", "config", "krew", "tranche.yaml"),
			Platforms: platforms[:2], Created: time.Unix(1700000000, 0),
			Build: func(p platform, _, file string) error { return os.WriteFile(file, []byte(p.String()), 0o755) }}
		require.NoError(t, r.write())
		sums[i] = string(readFile(t, filepath.Join(out, "checksums.txt")))
	}
	assert.Equal(t, sums[0], sums[1])
}

// make release's program, for this machine's platform: the plugin in the archive runs and
// says the release's version.
func TestTheReleasedPluginRuns(t *testing.T) {
	out := t.TempDir()
	host := runtime.GOOS + "/" + runtime.GOARCH
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "run", "./hack/release", "-version", "v0.1.0-test", "-out", out, "-platforms", host)
	cmd.Dir = filepath.Join("..", "..")
	output, err := cmd.CombinedOutput()
	require.NoError(t, err, "go run ./hack/release: %s", output)
	files := untarGz(t, filepath.Join(out, "kubectl-tranche_"+runtime.GOOS+"_"+runtime.GOARCH+".tar.gz"))
	binary := filepath.Join(t.TempDir(), "kubectl-tranche")
	require.NoError(t, os.WriteFile(binary, []byte(files["kubectl-tranche"]), 0o755))
	said, err := exec.Command(binary, "version").CombinedOutput()
	require.NoError(t, err, "%s", said)
	assert.Contains(t, string(said), "kubectl-tranche v0.1.0-test ("+runtime.Version()+", "+host+")")
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return data
}

func untarGz(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	require.NoError(t, err)
	files := map[string]string{}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return files
		}
		require.NoError(t, err)
		data, err := io.ReadAll(tr)
		require.NoError(t, err)
		files[hdr.Name] = string(data)
	}
}
