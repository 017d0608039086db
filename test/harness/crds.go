package harness

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	apiextensions "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsv1beta1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1beta1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

// GatewayAPICRDs returns the files of the standard-channel Gateway API CRDs of the
// sigs.k8s.io/gateway-api version in go.mod, for Options.CRDDirectories, but for TCPRoute's,
// which comes from the experimental channel. The CRDs come from the module cache, where
// building Tranche put the module already, so tests install exactly the API the code is
// compiled against.
//
// Both channels define TCPRoute: the standard one serves v1 alone, the experimental one v1
// and v1alpha2, the version Traefik 3.7 lists TCPRoutes at (its experimental channel on).
// With both files given, which one envtest installed last was a matter of chance, and when it
// was the standard one, Traefik found no TCPRoutes to list and never synced. The standard
// folder also holds a ValidatingAdmissionPolicy (the vap_safeupgrades file), which is no CRD
// and is left out.
func GatewayAPICRDs() ([]string, error) {
	dir, err := moduleDir("sigs.k8s.io/gateway-api")
	if err != nil {
		return nil, err
	}
	const tcpRoutes = "gateway.networking.k8s.io_tcproutes.yaml"
	standard, err := filepath.Glob(filepath.Join(dir, "config", "crd", "standard", "gateway.networking.k8s.io_*.yaml"))
	if err != nil || len(standard) == 0 {
		return nil, fmt.Errorf("harness: the Gateway API CRDs in %s: none found", dir)
	}
	files := []string{filepath.Join(dir, "config", "crd", "experimental", tcpRoutes)}
	for _, f := range standard {
		if name := filepath.Base(f); name != tcpRoutes && !strings.Contains(name, "_vap_") {
			files = append(files, f)
		}
	}
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("harness: the Gateway API CRDs: %w", err)
		}
	}
	return files, nil
}

// moduleDir is the module cache folder of a module Tranche requires. It asks the go command,
// which `go test` puts first on the PATH of the test binary.
func moduleDir(module string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("go", "list", "-m", "-json", module)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return "", fmt.Errorf("harness: go list -m %s: %w: %s", module, err, exit.Stderr)
		}
		return "", fmt.Errorf("harness: go list -m %s: %w", module, err)
	}
	var info struct{ Dir string }
	if err := json.Unmarshal(out, &info); err != nil {
		return "", fmt.Errorf("harness: go list -m %s: %w", module, err)
	}
	if info.Dir == "" {
		return "", fmt.Errorf("harness: %s is not in the module cache: run `go mod download %s`", module, module)
	}
	return info.Dir, nil
}

// traefikVersion is the Traefik whose CRDs the tests install: the one `make traefik` builds
// (TRAEFIK_VERSION, which the Makefile exports), else this default.
const traefikVersion = "v3.7.13"

// TraefikCRDs returns the file of Traefik's CRDs (TraefikService, IngressRoute, ...) for
// Options.CRDDirectories, from the Traefik module in the module cache, downloaded from the
// Go module proxy when missing.
func TraefikCRDs() (string, error) {
	version := os.Getenv("TRAEFIK_VERSION")
	if version == "" {
		version = traefikVersion
	}
	dir, err := downloadedModule("github.com/traefik/traefik/v3", version)
	if err != nil {
		return "", err
	}
	file := filepath.Join(dir, "docs", "content", "reference", "dynamic-configuration", "kubernetes-crd-definition-v1.yml")
	if _, err := os.Stat(file); err != nil {
		return "", fmt.Errorf("harness: Traefik's CRDs: %w", err)
	}
	return file, nil
}

// downloadedModule is the module cache folder of a module at a version that Tranche does not
// require (a mesh whose CRDs the tests install), downloading it first if need be.
func downloadedModule(module, version string) (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", module+"@"+version)
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jsonErr := json.Unmarshal(out, &info); jsonErr == nil && info.Error != "" {
		return "", fmt.Errorf("harness: go mod download %s@%s: %s", module, version, info.Error)
	}
	if err != nil {
		return "", fmt.Errorf("harness: go mod download %s@%s: %w", module, version, err)
	}
	return info.Dir, nil
}

// IstioCRDs returns the file of Istio's CRDs (VirtualService, DestinationRule, ...) of the
// Istio that istiod was built from (`make istio`), so that every test installs the CRDs the
// istiod of the end-to-end tests serves.
func IstioCRDs() (string, error) {
	dir, err := FindIstio()
	if err != nil {
		return "", err
	}
	file := filepath.Join(dir, "crds", "crd-all.gen.yaml")
	if _, err := os.Stat(file); err != nil {
		return "", fmt.Errorf("harness: Istio's CRDs: %w: run `make istio`", err)
	}
	return file, nil
}

// smiVersion is the smi-sdk-go whose CRDs the tests install.
const smiVersion = "v0.5.0"

// SMICRDs returns a folder holding the SMI TrafficSplit CRD of smi-sdk-go, converted to
// apiextensions.k8s.io/v1: the module ships it as v1beta1, which API servers since 1.22 no
// longer serve. The schema is the module's, with the root typed as an object, as v1 needs.
func SMICRDs(dir string) (string, error) {
	module, err := downloadedModule("github.com/servicemeshinterface/smi-sdk-go", smiVersion)
	if err != nil {
		return "", err
	}
	data, err := os.ReadFile(filepath.Join(module, "crds", "split.yaml"))
	if err != nil {
		return "", fmt.Errorf("harness: the SMI TrafficSplit CRD: %w", err)
	}
	var beta apiextensionsv1beta1.CustomResourceDefinition
	if err := yaml.Unmarshal(data, &beta); err != nil {
		return "", fmt.Errorf("harness: the SMI TrafficSplit CRD: %w", err)
	}
	if v := beta.Spec.Validation; v != nil && v.OpenAPIV3Schema != nil && v.OpenAPIV3Schema.Type == "" {
		v.OpenAPIV3Schema.Type = "object"
	}
	beta.Spec.PreserveUnknownFields = ptr.To(false)
	var internal apiextensions.CustomResourceDefinition
	if err := apiextensionsv1beta1.Convert_v1beta1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(&beta, &internal, nil); err != nil {
		return "", err
	}
	var v1 apiextensionsv1.CustomResourceDefinition
	if err := apiextensionsv1.Convert_apiextensions_CustomResourceDefinition_To_v1_CustomResourceDefinition(&internal, &v1, nil); err != nil {
		return "", err
	}
	v1.APIVersion, v1.Kind = "apiextensions.k8s.io/v1", "CustomResourceDefinition"
	out, err := yaml.Marshal(&v1)
	if err != nil {
		return "", err
	}
	return dir, os.WriteFile(filepath.Join(dir, "split.smi-spec.io.yaml"), out, 0o600)
}
