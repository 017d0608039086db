package harness

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// GatewayAPICRDs returns the folder of the standard-channel Gateway API CRDs of the
// sigs.k8s.io/gateway-api version in go.mod, for Options.CRDDirectories. The CRDs come from
// the module cache, where building Tranche put the module already, so tests install exactly
// the API the code is compiled against. The folder also holds a ValidatingAdmissionPolicy
// (the vap_safeupgrades file): envtest installs only the CustomResourceDefinitions it finds.
func GatewayAPICRDs() (string, error) {
	dir, err := moduleDir("sigs.k8s.io/gateway-api")
	if err != nil {
		return "", err
	}
	crds := filepath.Join(dir, "config", "crd", "standard")
	if _, err := os.Stat(crds); err != nil {
		return "", fmt.Errorf("harness: the Gateway API CRDs: %w", err)
	}
	return crds, nil
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
