//go:build e2e

package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/config/grafana"
	"github.com/tranche-dev/tranche/test/stack"
)

// subscribeForPanels gives a Rollout what the Grafana dashboard's panels count besides
// rollouts and checks: a Slack NotificationProvider and an Event webhook.
func subscribeForPanels(t *testing.T, ro *trancheapi.Rollout) {
	t.Helper()
	slack, err := stack.StartSlackReceiver()
	require.NoError(t, err)
	t.Cleanup(func() { _ = slack.Close() })
	require.NoError(t, slack.Subscribe(context.Background(), s.ControlPlane.Client, ro))
	hooks := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(hooks.Close)
	ro.Spec.Analysis.Webhooks = append(ro.Spec.Analysis.Webhooks,
		trancheapi.Webhook{Name: "audit", Type: trancheapi.WebhookEvent, URL: hooks.URL})
}

// labelValues is Grafana's label_values(selector, label).
var labelValues = regexp.MustCompile(`^label_values\((.+), (\w+)\)$`)

// checkGrafanaPanels runs every query of the Grafana dashboard (config/grafana) on the
// stack's Prometheus, which scraped the manager and Traefik, with the variables set as
// Grafana would from their own queries to show Rollout app: each must return a series, so
// that no panel is empty because of a wrong metric or label name.
func checkGrafanaPanels(t *testing.T, app string) {
	t.Helper()
	d, err := grafana.New()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Grafana's own: the rate interval it picks for 1 s scrapes at most, and the time range.
	vars := map[string]string{"__rate_interval": "1m", "__range": "15m"}
	interpolate := func(query string) string {
		for name, value := range vars {
			query = strings.ReplaceAll(query, "${"+name+"}", value)
			query = strings.ReplaceAll(query, "$"+name, value)
		}
		return query
	}
	// The value each variable must offer for app; the others offer only one.
	want := map[string]string{"namespace": namespace, "rollout": app, "target": app, "provider": "gatewayAPI"}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValues.FindStringSubmatch(v.Definition)
		require.NotNil(t, m, "variable %s: %s is not label_values(selector, label)", v.Name, v.Definition)
		values, err := s.Prometheus.LabelValues(ctx, m[2], interpolate(m[1]))
		require.NoError(t, err, "variable %s", v.Name)
		value, ok := want[v.Name]
		switch {
		case ok:
			require.Contains(t, values, value, "variable %s offers %s", v.Name, value)
		default:
			require.Len(t, values, 1, "variable %s: %v", v.Name, values)
			value = values[0]
		}
		vars[v.Name] = value
	}
	queries := d.Queries()
	require.NotEmpty(t, queries)
	for _, q := range queries {
		expr := interpolate(q.Expr)
		require.NotContains(t, expr, "$", "panel %q, %s: a variable is left", q.Panel, q.Legend)
		wait, stop := context.WithTimeout(ctx, 20*time.Second)
		assert.NoError(t, s.Prometheus.WaitForSeries(wait, expr), "panel %q, %s", q.Panel, q.Legend)
		stop()
	}
	t.Logf("ran the %d queries of the dashboard's panels", len(queries))
}
