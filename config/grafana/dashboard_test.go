package grafana_test

import (
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tranche-dev/tranche/config/grafana"
	"github.com/tranche-dev/tranche/providers/registry"
)

// The panels' queries are run against a real Prometheus by the end-to-end tests
// (test/e2e/grafana_test.go); these check the dashboard's shape.

func TestTheFileIsWhatNewMakes(t *testing.T) {
	d, err := grafana.New()
	require.NoError(t, err)
	want, err := d.JSON()
	require.NoError(t, err)
	got, err := os.ReadFile("tranche.json")
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got), "tranche.json is not what package grafana makes: make manifests writes it")
}

// variable is a use of a dashboard variable: ${name} or $name.
var variable = regexp.MustCompile(`\$\{?(\w+)\}?`)

func TestEveryPanelAsksTheChosenPrometheusWithKnownVariables(t *testing.T) {
	d, err := grafana.New()
	require.NoError(t, err)
	known := map[string]bool{"__rate_interval": true, "__range": true} // Grafana's own
	for _, v := range d.Templating.List {
		for _, use := range variable.FindAllStringSubmatch(v.Definition, -1) {
			assert.True(t, known[use[1]], "variable %s uses $%s, which is not defined before it", v.Name, use[1])
		}
		known[v.Name] = true
	}
	ids := map[int]string{}
	cells := map[[2]int]string{} // every grid cell a panel covers
	for _, p := range d.Panels {
		require.NotContains(t, ids, p.ID, "panels %q and %q have the same id", ids[p.ID], p.Title)
		ids[p.ID] = p.Title
		g := p.GridPos
		assert.LessOrEqual(t, g.X+g.W, 24, "panel %q is wider than the dashboard", p.Title)
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				require.NotContains(t, cells, [2]int{x, y}, "panels %q and %q overlap", cells[[2]int{x, y}], p.Title)
				cells[[2]int{x, y}] = p.Title
			}
		}
		if p.Type == "row" {
			continue
		}
		require.NotEmpty(t, p.Targets, "panel %q asks nothing", p.Title)
		assert.NotEmpty(t, p.Description, "panel %q says nothing of what it shows", p.Title)
		for _, target := range p.Targets {
			assert.Equal(t, "${datasource}", target.Datasource.UID, "panel %q", p.Title)
			for _, use := range variable.FindAllStringSubmatch(target.Expr, -1) {
				assert.True(t, known[use[1]], "panel %q uses $%s, which is no variable", p.Title, use[1])
			}
		}
	}
}

// The last row has the built-in request metrics of every provider that has any, for the
// canary and, where the data plane's metrics tell them apart, the primary.
func TestTheCanaryBesidePrimaryRowCoversEveryProviderWithRequestMetrics(t *testing.T) {
	d, err := grafana.New()
	require.NoError(t, err)
	panels := map[string]map[string]string{} // title → legend → expr
	for _, q := range d.Queries() {
		if panels[q.Panel] == nil {
			panels[q.Panel] = map[string]string{}
		}
		panels[q.Panel][q.Legend] = q.Expr
	}
	reg := registry.Default()
	for _, name := range slices.Sorted(maps.Keys(reg)) {
		metrics := reg[name](nil).RequestMetrics()
		guard := fmt.Sprintf(`"provider", %q`, name)
		for _, title := range []string{"Request success rate", "Request duration (p99)"} {
			require.Contains(t, panels, title)
			canary, primary := panels[title]["canary"], panels[title]["primary"]
			assert.Equal(t, len(metrics) > 0, strings.Contains(canary, guard), "%s: the canary's %s", name, title)
			tellsPrimary := len(metrics) > 0
			for _, m := range metrics {
				tellsPrimary = tellsPrimary && m.Primary != ""
			}
			assert.Equal(t, tellsPrimary, strings.Contains(primary, guard), "%s: the primary's %s", name, title)
		}
	}
}
