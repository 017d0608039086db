// Command image builds the manager's OCI image without a container engine: the manager and
// the kubectl plugin (whose dashboard the chart can serve to a team), built static for linux,
// alone on an empty base, run as a non-root user, with the OCI labels. It writes the image
// as an OCI layout, pushes it when asked, with its SBOM (CycloneDX, the Go modules of the
// binaries), its build provenance (SLSA v1, an in-toto statement) and, given
// a key, its signature (a Sigstore bundle) as OCI referrers beside it, and prints its digest. Run it
// from the module's root (make image does).
//
// Nothing in the image depends on when or where it is built: the binary is built with
// -trimpath, and the file's time and the image's creation time are -created (the commit's
// time, say), so two builds of one source have one digest.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	var spec imageSpec
	var layoutDir, push, arch, signKey string
	var created int64
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	fs.StringVar(&arch, "arch", runtime.GOARCH, "The architecture to build the image for.")
	fs.StringVar(&layoutDir, "layout", "", "Directory to write the image into as an OCI layout; emptied first.")
	fs.StringVar(&push, "push", "", "Reference to push the image to (registry/repository:tag); none by default.")
	fs.StringVar(&spec.Version, "version", "dev", "The version the image's labels give.")
	fs.StringVar(&spec.Revision, "revision", "", "The source revision (commit) the image's labels give.")
	fs.StringVar(&spec.Source, "source", "https://github.com/tranche-dev/tranche", "The source repository the image's labels give.")
	fs.Int64Var(&created, "created", 0, "Creation time of the image and its file, in seconds since the epoch.")
	fs.StringVar(&signKey, "sign-key", "", "A PEM file with an ECDSA P-256 private key: the image pushed is signed with it, a Sigstore bundle beside it. None by default.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if layoutDir == "" {
		return fmt.Errorf("-layout is required: make image passes it")
	}
	for _, b := range []struct{ path, pkg, what string }{
		{entrypoint, "./cmd/tranche", "the manager"},
		{pluginPath, "./cmd/kubectl-tranche", "the plugin"},
	} {
		data, err := buildBinary(arch, b.pkg, b.what)
		if err != nil {
			return err
		}
		spec.Files = append(spec.Files, imageFile{Path: b.path, Data: data})
	}
	spec.Platform = v1.Platform{OS: "linux", Architecture: arch}
	spec.Created = time.Unix(created, 0).UTC()
	img, err := build(spec)
	if err != nil {
		return err
	}
	if err := writeLayout(layoutDir, img, spec.Version); err != nil {
		return fmt.Errorf("writing the OCI layout: %w", err)
	}
	if push != "" {
		ref, err := name.ParseReference(push)
		if err != nil {
			return fmt.Errorf("-push %q: %w", push, err)
		}
		auth := remote.WithAuthFromKeychain(authn.DefaultKeychain)
		if err := remote.Write(ref, img, auth); err != nil {
			return fmt.Errorf("pushing to %s: %w", ref, err)
		}
		var key *signingKey
		if signKey != "" {
			if key, err = loadSigningKey(signKey); err != nil {
				return fmt.Errorf("-sign-key: %w", err)
			}
		}
		if err := pushAttachments(ref.Context(), img, spec, key, auth); err != nil {
			return err
		}
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Println(digest)
	return nil
}

// pushAttachments pushes, beside the image and about it, the manager's SBOM, the image's
// build provenance, and with a key, the image's signature.
func pushAttachments(repo name.Repository, img v1.Image, spec imageSpec, key *signingKey, opts ...remote.Option) error {
	subject, err := partial.Descriptor(img)
	if err != nil {
		return err
	}
	bom, err := sbom(spec.binaries(), spec.Version, spec.Created)
	if err != nil {
		return err
	}
	built, err := provenance(repo.Name(), subject.Digest, spec)
	if err != nil {
		return err
	}
	attachments := map[string][]byte{sbomMediaType: bom, provenanceMediaType: built}
	if key != nil {
		manifest, err := img.RawManifest()
		if err != nil {
			return err
		}
		if attachments[signatureMediaType], err = signManifest(manifest, key); err != nil {
			return err
		}
	}
	for artifactType, blob := range attachments {
		if _, err := pushReferrer(repo, *subject, artifactType, blob, opts...); err != nil {
			return err
		}
	}
	return nil
}

// buildBinary builds the command pkg for linux on arch, static (no cgo: the image has no C
// library) and stripped, and returns the binary.
func buildBinary(arch, pkg, what string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "tranche-image-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "binary")
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("building %s for linux/%s: %w", what, arch, err)
	}
	return os.ReadFile(out)
}
