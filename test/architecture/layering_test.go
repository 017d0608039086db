// Package architecture holds tests over the module as a whole: which package may import
// which (docs/architecture.md says why).
package architecture

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/tranche-dev/tranche"

// layer is a set of packages and the packages of this module they may import outside the
// layer itself. Patterns are paths relative to the module: "api" is that package alone,
// "api/..." it and every package below it.
type layer struct {
	name     string
	packages []string
	mayUse   []string
	// modules, when set, are the only other modules the layer may import (the standard
	// library aside), as import path patterns.
	modules []string
}

// layers are the rules, most specific first: a package belongs to the first layer one of
// whose patterns matches it. Only the module's own packages are checked (the standard library
// and other modules are not layers), and only what non-test code imports: a test may use
// the harness and the conformance suite.
var layers = []layer{
	// The invalid objects the API server's tests and the offline linter both refuse.
	{name: "the API's validation cases", packages: []string{"api/v1alpha1/validationcases"}, mayUse: []string{"api/..."}},
	// Every other package imports the API: it stays a leaf that any client can vendor.
	{name: "api", packages: []string{"api/..."}, modules: []string{"k8s.io/apimachinery/...", "k8s.io/api/..."}},
	{name: "analysis", packages: []string{"analysis/..."}, mayUse: []string{"api/..."}},
	// The words the planner and the providers share for a split: plain values, no I/O.
	{name: "the words for a split", packages: []string{"providers/traffic"}, mayUse: []string{"api/..."}, modules: []string{"k8s.io/apimachinery/..."}},
	{name: "the providers root", packages: []string{"providers"}, mayUse: []string{"api/...", "providers/traffic"}},
	{name: "the provider registry", packages: []string{"providers/registry"}, mayUse: []string{"api/...", "providers/..."}},
	{name: "the conformance suite", packages: []string{"providers/conformance"}, mayUse: []string{"api/...", "providers", "providers/traffic"}},
	{name: "a provider", packages: []string{"providers/..."}, mayUse: []string{"api/...", "providers", "providers/traffic"}},
	{name: "notify", packages: []string{"notify/..."}, mayUse: []string{"api/..."}},
	// The decision is pure: what was observed in, the plan out. Nothing that talks to a
	// server (a client, a provider, a notifier), so that tables and simulations test it whole.
	{name: "the planner", packages: []string{"controllers/planner"}, mayUse: []string{"api/...", "analysis", "providers/traffic"},
		modules: []string{"k8s.io/apimachinery/..."}},
	{name: "controllers", packages: []string{"controllers/..."}, mayUse: []string{"api/...", "analysis/...", "controllers/planner", "providers", "providers/traffic", "notify/..."}},
	// config/crd is the CRDs as data: lint checks a Rollout against their schema offline.
	// notify: lint renders a NotificationProvider's templates, and notify test sends the
	// samples, as the manager would.
	{name: "the plugin", packages: []string{"cli/..."}, mayUse: []string{"api/...", "analysis/...", "providers", "providers/registry", "notify", "config/crd"}},
	// The Grafana dashboard's panels of the canary beside the primary are made from each
	// provider's request metrics, as the built-in queries are.
	{name: "the Grafana dashboard", packages: []string{"config/grafana"}, mayUse: []string{"api/...", "providers", "providers/registry"}},
	{name: "config", packages: []string{"config/..."}, mayUse: []string{"api/..."}},
	// The binaries, the scripts' programs and the tests wire everything together.
	{name: "commands", packages: []string{"cmd/...", "hack/..."}, mayUse: []string{"..."}},
	{name: "tests", packages: []string{"test/..."}, mayUse: []string{"..."}},
}

// compositions are imports of one provider by another that are the design rather than a
// shortcut, each with its reason. Code two providers merely share belongs in the providers
// root instead.
var compositions = map[[2]string]string{
	{"providers/linkerd", "providers/gatewayapi"}: "Linkerd splits traffic with Gateway API HTTPRoutes attached to the Service (GAMMA): its Router is the gatewayAPI Router with another attachment and linkerd-proxy's queries",
}

func TestLayering(t *testing.T) {
	pkgs := listPackages(t)
	require.NotEmpty(t, pkgs)
	for _, p := range pkgs {
		_, ok := layerOf(p.path)
		assert.True(t, ok, "package %s is in no layer: add it to the layers of this test and to docs/architecture.md", p.path)
	}
	assert.Empty(t, violations(pkgs), "imports that cross the layers (see docs/architecture.md)")
}

// TestLayeringCatchesBadImports plants imports each rule forbids into a small graph.
func TestLayeringCatchesBadImports(t *testing.T) {
	for _, tc := range []struct{ from, to string }{
		{"api/v1alpha1", "providers"},
		{"analysis", "providers"},
		{"providers/smi", "providers/linkerd"},
		{"providers", "providers/gatewayapi"},
		{"notify", "analysis"},
		{"cli", "controllers"},
		{"controllers", "providers/istio"},
		{"api/v1alpha1", "test/harness"},
		{"api/v1alpha1", "sigs.k8s.io/controller-runtime/pkg/client"},
		{"controllers/planner", "providers"},
		{"controllers/planner", "notify"},
		{"controllers/planner", "sigs.k8s.io/controller-runtime/pkg/client"},
		{"providers/traffic", "providers"},
	} {
		t.Run(tc.from+" imports "+tc.to, func(t *testing.T) {
			p := pkg{path: tc.from, imports: []string{"api/v1alpha1"}, external: []string{"k8s.io/apimachinery/pkg/types"}}
			if strings.Contains(tc.to, ".") {
				p.external = append(p.external, tc.to)
			} else {
				p.imports = append(p.imports, tc.to)
			}
			got := violations([]pkg{p})
			require.Len(t, got, 1)
			assert.Contains(t, got[0], tc.to)
		})
	}
	assert.Empty(t, violations([]pkg{{path: "providers/linkerd", imports: []string{"providers/gatewayapi"}}}),
		"a declared composition is allowed")
	assert.Empty(t, violations([]pkg{{path: "controllers", imports: []string{"providers", "analysis/sequential"}}}))
}

// pkg is a package of the module and the packages of the module its non-test files import,
// both relative to the module.
type pkg struct {
	path    string
	imports []string
	// external are the packages of other modules it imports (the standard library aside).
	external []string
}

func violations(pkgs []pkg) []string {
	var found []string
	for _, p := range pkgs {
		from, ok := layerOf(p.path)
		if !ok {
			continue
		}
		for _, imp := range p.imports {
			if allowed(p.path, from, imp) {
				continue
			}
			found = append(found, fmt.Sprintf("%s (%s) imports %s", p.path, from.name, imp))
		}
		for _, imp := range p.external {
			if from.modules != nil && !matchesAny(imp, from.modules) {
				found = append(found, fmt.Sprintf("%s (%s) imports %s, of another module", p.path, from.name, imp))
			}
		}
	}
	sort.Strings(found)
	return found
}

// allowed reports whether a package of layer from may import imp.
func allowed(pkgPath string, from layer, imp string) bool {
	if _, ok := compositions[[2]string{pkgPath, imp}]; ok {
		return true
	}
	if to, _ := layerOf(imp); to.name == from.name {
		// Within a layer, but each provider is a layer of its own: a provider's packages
		// may import each other, not another provider's.
		return from.name != "a provider" || providerOf(pkgPath) == providerOf(imp)
	}
	return matchesAny(imp, from.mayUse)
}

// providerOf is the provider a package of the provider layer belongs to: providers/<name>.
func providerOf(pkgPath string) string {
	parts := strings.SplitN(pkgPath, "/", 3)
	return strings.Join(parts[:min(2, len(parts))], "/")
}

func layerOf(pkgPath string) (layer, bool) {
	for _, l := range layers {
		if matchesAny(pkgPath, l.packages) {
			return l, true
		}
	}
	return layer{}, false
}

func matchesAny(pkgPath string, patterns []string) bool {
	for _, pattern := range patterns {
		if pattern == "..." || pattern == pkgPath {
			return true
		}
		if base, ok := strings.CutSuffix(pattern, "/..."); ok && (pkgPath == base || strings.HasPrefix(pkgPath, base+"/")) {
			return true
		}
	}
	return false
}

// listPackages asks the go command for every package of the module and its imports.
func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports", module+"/...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		t.Fatalf("go list: %v\n%s", err, exit.Stderr)
	}
	require.NoError(t, err, "go list (the go command must be on PATH)")
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else {
			require.NoError(t, err)
		}
		rel, ok := relative(p.ImportPath)
		require.True(t, ok, "go list answered a package outside the module: %s", p.ImportPath)
		q := pkg{path: rel}
		for _, imp := range p.Imports {
			if r, ok := relative(imp); ok {
				q.imports = append(q.imports, r)
			} else if strings.Contains(strings.Split(imp, "/")[0], ".") {
				q.external = append(q.external, imp)
			}
		}
		pkgs = append(pkgs, q)
	}
	return pkgs
}

func relative(importPath string) (string, bool) {
	if importPath == module {
		return ".", true
	}
	rel, ok := strings.CutPrefix(importPath, module+"/")
	return path.Clean(rel), ok
}
