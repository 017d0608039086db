package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

type platform struct{ OS, Arch string }

func (p platform) String() string { return p.OS + "/" + p.Arch }

// binary is the plugin's file name on the platform: kubectl finds plugins by it.
func (p platform) binary() string {
	if p.OS == "windows" {
		return "kubectl-tranche.exe"
	}
	return "kubectl-tranche"
}

// archive is the name of the platform's archive.
func (p platform) archive() string { return fmt.Sprintf("kubectl-tranche_%s_%s.tar.gz", p.OS, p.Arch) }

// release is what one run writes into Out: an archive a platform, checksums.txt, and the
// krew manifest tranche.yaml whose platforms point at the archives under URL.
type release struct {
	Version, Out, URL, Template string
	Platforms                   []platform
	Created                     time.Time
	// Build writes the plugin for a platform, of a version, to a file.
	Build func(p platform, version, file string) error
}

// built is one platform's archive.
type built struct {
	platform
	sha256 string
}

func (r release) write() error {
	if err := os.RemoveAll(r.Out); err != nil {
		return err
	}
	if err := os.MkdirAll(r.Out, 0o755); err != nil {
		return err
	}
	scratch, err := os.MkdirTemp("", "tranche-release-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	var archives []built
	for _, p := range r.Platforms {
		file := filepath.Join(scratch, p.OS+"-"+p.Arch, p.binary())
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			return err
		}
		if err := r.Build(p, r.Version, file); err != nil {
			return fmt.Errorf("building the plugin for %s: %w", p, err)
		}
		sum, err := r.writeArchive(p, file)
		if err != nil {
			return fmt.Errorf("archiving the plugin for %s: %w", p, err)
		}
		archives = append(archives, built{p, sum})
	}
	var sums strings.Builder
	for _, a := range archives {
		fmt.Fprintf(&sums, "%s  %s\n", a.sha256, a.archive())
	}
	if err := os.WriteFile(filepath.Join(r.Out, "checksums.txt"), []byte(sums.String()), 0o644); err != nil {
		return err
	}
	return r.writeManifest(archives)
}

// writeArchive writes the platform's archive, the binary alone, dated Created, and returns
// its sha256.
func (r release) writeArchive(p platform, binary string) (string, error) {
	data, err := os.ReadFile(binary)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return "", err
	}
	tw := tar.NewWriter(zw)
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: p.binary(), Size: int64(len(data)), Mode: 0o755, ModTime: r.Created, Format: tar.FormatUSTAR}
	if err := tw.WriteHeader(hdr); err != nil {
		return "", err
	}
	if _, err := tw.Write(data); err != nil {
		return "", err
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	sum := sha256.Sum256(buf.Bytes())
	return hex.EncodeToString(sum[:]), os.WriteFile(filepath.Join(r.Out, p.archive()), buf.Bytes(), 0o644)
}

// writeManifest fills in the krew template: the version, and a platform entry an archive.
func (r release) writeManifest(archives []built) error {
	text, err := os.ReadFile(r.Template)
	if err != nil {
		return err
	}
	var manifest map[string]any
	if err := yaml.Unmarshal(text, &manifest); err != nil {
		return fmt.Errorf("%s: %w", r.Template, err)
	}
	spec, ok := manifest["spec"].(map[string]any)
	if !ok {
		return fmt.Errorf("%s has no spec", r.Template)
	}
	spec["version"] = r.Version
	var entries []any
	for _, a := range archives {
		entries = append(entries, map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"os": a.OS, "arch": a.Arch}},
			"uri":      strings.TrimSuffix(r.URL, "/") + "/" + a.archive(),
			"sha256":   a.sha256,
			"bin":      a.binary(),
		})
	}
	spec["platforms"] = entries
	out, err := yaml.Marshal(manifest)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(r.Out, "tranche.yaml"), out, 0o644)
}

// buildPlugin builds ./cmd/kubectl-tranche for the platform: static, stripped, its version
// set.
func buildPlugin(p platform, version, file string) error {
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-trimpath",
		"-ldflags=-s -w -X github.com/tranche-dev/tranche/cli.Version="+version, "-o", file, "./cmd/kubectl-tranche")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch)
	cmd.Stderr = os.Stderr
	return cmd.Run()
}
