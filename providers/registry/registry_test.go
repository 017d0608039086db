package registry_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/gatewayapi"
	"github.com/tranche-dev/tranche/providers/istio"
	"github.com/tranche-dev/tranche/providers/kubernetes"
	"github.com/tranche-dev/tranche/providers/nginx"
	"github.com/tranche-dev/tranche/providers/registry"
	"github.com/tranche-dev/tranche/providers/smi"
	"github.com/tranche-dev/tranche/providers/traefik"
)

func TestDefaultKnowsTheProvidersThatExist(t *testing.T) {
	for _, tc := range []struct {
		name     string
		provider trancheapi.Provider
		want     providers.Router
	}{
		{"gatewayAPI", trancheapi.Provider{GatewayAPI: &trancheapi.GatewayAPIProvider{}}, &gatewayapi.Router{}},
		{"kubernetes", trancheapi.Provider{Kubernetes: &trancheapi.KubernetesProvider{}}, &kubernetes.Router{}},
		{"traefik", trancheapi.Provider{Traefik: &trancheapi.TraefikProvider{}}, &traefik.Router{}},
		{"nginx", trancheapi.Provider{NGINX: &trancheapi.NGINXProvider{}}, &nginx.Router{}},
		{"smi", trancheapi.Provider{SMI: &trancheapi.SMIProvider{}}, &smi.Router{}},
		{"istio", trancheapi.Provider{Istio: &trancheapi.IstioProvider{}}, &istio.Router{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ro := &trancheapi.Rollout{Spec: trancheapi.RolloutSpec{Provider: tc.provider}}
			router, err := registry.Default().For(nil, ro)
			require.NoError(t, err)
			assert.IsType(t, tc.want, router)
		})
	}
}

func TestDefaultRefusesOtherProviders(t *testing.T) {
	ro := &trancheapi.Rollout{} // no provider: a Rollout from before its provider existed, say
	_, err := registry.Default().For(nil, ro)
	require.ErrorIs(t, err, providers.ErrUnknownProvider)
	assert.Contains(t, err.Error(), "[gatewayAPI istio kubernetes linkerd nginx smi traefik]")
}

var update = flag.Bool("update", false, "rewrite the README's table of providers")

// Every provider the API has, in the order the README lists them.
var apiProviders = []string{"gatewayAPI", "istio", "linkerd", "smi", "nginx", "traefik", "kubernetes"}

// providersTable is the README's table of what each provider does, made from the providers'
// Features (which their conformance suites hold them to).
func providersTable(t *testing.T) string {
	var b strings.Builder
	b.WriteString("| provider | traffic split | A/B match on | mirroring | session affinity | gRPC | TCP | several ports | built-in metrics from | a split counts when |\n|---|---|---|---|---|---|---|---|---|---|\n")
	yes := func(v bool) string {
		if v {
			return "yes"
		}
		return "no"
	}
	orNo := func(s string) string {
		if s == "" {
			return "no"
		}
		return s
	}
	for _, name := range apiProviders {
		factory, ok := registry.Default()[name]
		if !ok {
			fmt.Fprintf(&b, "| `%s` | not in this version | | | | | | | |\n", name)
			continue
		}
		f := factory(nil).Features()
		split := "all or nothing (blue/green)"
		if f.AnyWeight {
			split = "any weight, 0–100%"
		}
		counts := "its routing objects read back (the data plane says nothing)"
		if f.Status != "" {
			counts = "the data plane says so, in its " + f.Status
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", name, split, orNo(f.Match), yes(f.Mirror), yes(f.Sticky), orNo(f.GRPC), orNo(f.TCP), orNo(f.Ports), orNo(f.Metrics), counts)
	}
	for name := range registry.Default() {
		require.Contains(t, apiProviders, name, "a registered provider the table would leave out")
	}
	return b.String()
}

const (
	tableBegin = "<!-- providers table: `go test ./providers/registry -update` writes it from the code -->\n"
	tableEnd   = "<!-- end of providers table -->"
)

// TestTheREADMEsTableOfProvidersIsTheCodes keeps the README honest about what each provider
// does.
func TestTheREADMEsTableOfProvidersIsTheCodes(t *testing.T) {
	path := filepath.Join("..", "..", "README.md")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	readme := string(data)
	begin, end := strings.Index(readme, tableBegin), strings.Index(readme, tableEnd)
	require.True(t, begin >= 0 && end > begin, "the README has no table between %q and %q", tableBegin, tableEnd)
	want := providersTable(t)
	got := readme[begin+len(tableBegin) : end]
	if *update {
		readme = readme[:begin+len(tableBegin)] + want + readme[end:]
		require.NoError(t, os.WriteFile(path, []byte(readme), 0o644))
		return
	}
	assert.Equal(t, want, got, "run go test ./providers/registry -update")
}
