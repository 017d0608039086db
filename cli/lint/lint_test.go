package lint_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tranche-dev/tranche/api/v1alpha1/validationcases"
	"github.com/tranche-dev/tranche/cli/lint"
	"github.com/tranche-dev/tranche/providers/registry"
	"github.com/tranche-dev/tranche/test/harness"
)

const files = `
apiVersion: tranche.dev/v1alpha1
kind: Rollout
metadata: {name: shop}
spec:
  targetRef: {kind: Deployment, name: shop}
  service: {port: 80}
  provider: {gatewayAPI: {parentRefs: [{name: public}]}}
  analysis:
    metrics:
    - {name: success, builtin: request-success-rate, min: 99}
    - {name: broken, templateRef: {name: broken}, max: 1}
    - {name: elsewhere, templateRef: {name: not-here}, max: 1}
    - {name: up, templateRef: {name: up}, min: 1}
---
apiVersion: tranche.dev/v1alpha1
kind: MetricTemplate
metadata: {name: broken}
spec: {query: 'sum(rate(errors_total{app="{{ .App }}"}[1m]))'}
---
apiVersion: tranche.dev/v1alpha1
kind: MetricTemplate
metadata: {name: up}
spec: {query: 'count(up{job="{{ .Rollout }}"}) or vector(1)'}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: shop}
---
apiVersion: tranche.dev/v1alpha1
kind: Rollout
metadata: {name: mesh}
spec:
  targetRef: {kind: Deployment, name: mesh}
  service: {port: 80}
  provider: {osm: {}}
---
apiVersion: tranche.dev/v1alpha1
kind: NotificationProvider
metadata: {name: slack}
spec:
  type: Slack
  secretRef: {name: slack}
  templates:
    Default: {title: "{{ .Cluster }}: {{ .Rollout }} {{ .Title }}"}
    Promoted: {text: "{{ .Revision }} is out"}
    Aborted: {text: "{{ .Rollout "}
`

func lintFiles(t *testing.T, prometheus string) []string {
	t.Helper()
	docs, err := lint.Read("app.yaml", strings.NewReader(files))
	require.NoError(t, err)
	require.Len(t, docs, 6)
	schemas, err := lint.LoadSchemas()
	require.NoError(t, err)
	var lines []string
	for _, f := range lint.Lint(context.Background(), schemas, docs, lint.Options{
		Providers: registry.Default(), Namespace: "shop", Prometheus: prometheus, Now: time.Now(),
	}) {
		lines = append(lines, f.String())
	}
	return lines
}

// offline is what lint says of files without a Prometheus to ask.
var offline = []string{
	`app.yaml: MetricTemplate/broken: error: spec.query: does not render: query template uses {{ .App }}, which is not a variable: use .Rollout, .Namespace, .Target, .Primary, .Canary, .Service, .Interval, .Workload, .WorkloadService, .Window`,
	`app.yaml: Rollout/mesh: error: spec.provider.osm: Forbidden: unknown field: remove it, or check its spelling and indentation`,
	`app.yaml: Rollout/mesh: error: spec.provider: Invalid value: set exactly one provider: gatewayAPI, istio, linkerd, smi, nginx, traefik or kubernetes`,
	`app.yaml: NotificationProvider/slack: error: spec.templates: templates.Aborted.text: at 1: unclosed action (the controller would send Tranche's own words in its place)`,
	`app.yaml: NotificationProvider/slack: error: spec.templates: templates.Promoted.text, for news Promoted: at 1:3: executing "Promoted.text" at <.Revision>: can't evaluate field Revision in type notify.TemplateData (the controller would send Tranche's own words in its place)`,
	`app.yaml: Rollout/shop: error: spec.analysis.metrics[1]: the query of metric broken does not render: query template uses {{ .App }}, which is not a variable: use .Rollout, .Namespace, .Target, .Primary, .Canary, .Service, .Interval, .Workload, .WorkloadService, .Window`,
	`app.yaml: Rollout/shop: warning: spec.analysis.metrics[2].templateRef: MetricTemplate shop/not-here is not among the files checked: its query was not checked`,
}

func TestLintSeesWhatOnlyTheControllerWould(t *testing.T) {
	assert.Equal(t, offline, lintFiles(t, ""))
}

// With a Prometheus, every query that renders runs once: the built-in success rate has no
// data (no traffic has been through a gateway), the template asking for up answers.
func TestLintAsksPrometheus(t *testing.T) {
	prom, err := harness.StartPrometheus(harness.PrometheusOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = prom.Stop() })

	got := lintFiles(t, prom.URL())
	want := append(offline[:5:5], `app.yaml: Rollout/shop: warning: spec.analysis.metrics[0]: metric success returns no data from `+prom.URL()+
		` now (expected before a release sends the canary traffic)`)
	want = append(want, offline[5:]...)
	assert.Equal(t, want, got)
}

// A file of MetricTemplates alone, as a team that keeps its queries apart from its Rollouts
// writes it: each query renders and is PromQL that parses, the total query too.
func TestLintChecksMetricTemplatesOnTheirOwn(t *testing.T) {
	const templates = `
apiVersion: tranche.dev/v1alpha1
kind: MetricTemplate
metadata: {name: errors}
spec:
  query: 'sum(rate(http_errors_total{service="{{ .WorkloadService }}"}[{{ .Interval }}]))'
  totalQuery: 'sum(rate(http_requests_total{service="{{ .WorkloadService }}"}[{{ .Interval }}])'
---
apiVersion: tranche.dev/v1alpha1
kind: MetricTemplate
metadata: {name: latency}
spec: {query: 'histogram_quantile(0.99, sum by (le) (rate(latency_bucket{app="{{ .Canary }}"}[1m])))'}
---
apiVersion: tranche.dev/v1alpha1
kind: MetricTemplate
metadata: {name: typo}
spec: {query: 'sum(rate(errors_total{app="{{ .Canary }}"}[1m])) /'}
`
	docs, err := lint.Read("metrics.yaml", strings.NewReader(templates))
	require.NoError(t, err)
	schemas, err := lint.LoadSchemas()
	require.NoError(t, err)
	var lines []string
	for _, f := range lint.Lint(context.Background(), schemas, docs, lint.Options{Providers: registry.Default(), Namespace: "shop"}) {
		lines = append(lines, f.String())
	}
	require.Len(t, lines, 2, strings.Join(lines, "\n"))
	assert.Contains(t, lines[0], `metrics.yaml: MetricTemplate/errors: error: spec.totalQuery: renders to sum(rate(http_requests_total{service="example-canary"}[1m]), which Prometheus would refuse: 1:60: parse error: unclosed left parenthesis`)
	assert.Contains(t, lines[1], `metrics.yaml: MetricTemplate/typo: error: spec.query: renders to sum(rate(errors_total{app="example"}[1m])) /, which Prometheus would refuse:`)
}

// Where the API server and the controller would speak up beyond the validation cases.
func TestLintMatchesTheAPIServerAtTheEdges(t *testing.T) {
	const base = `{apiVersion: tranche.dev/v1alpha1, kind: Rollout, metadata: {name: app}, spec: {targetRef: {kind: Deployment, name: app}, service: {port: 80}, provider: {gatewayAPI: {parentRefs: [{name: gw}]}}}}`
	schemas, err := lint.LoadSchemas()
	require.NoError(t, err)
	for _, tc := range []struct {
		name, patch string
		want        string // "" when it must pass
	}{
		{"an empty list written as null passes, as kubectl apply does", `{spec: {notify: null}}`, ""},
		{"a name that is not a DNS subdomain", `{metadata: {name: Pod_Info}}`, "metadata.name: Invalid value"},
		{"an invalid label", `{metadata: {labels: {"bad key!": x}}}`, "metadata.labels: Invalid value"},
		{"a misspelt kind of the API group", `{kind: Rolout}`, `kind: Unsupported value: "tranche.dev/v1alpha1 Rolout"`},
		{"a Compare metric with bounds, which it does not use", `{spec: {analysis: {metrics: [{name: m, builtin: request-success-rate, judge: Compare, min: 1}]}}}`,
			"a Compare metric is judged against the primary: leave out min and max"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj, err := validationcases.Patched(base, tc.patch)
			require.NoError(t, err)
			findings := lint.Lint(context.Background(), schemas, []lint.Document{{Source: "f", Object: obj}},
				lint.Options{Providers: registry.Default(), Namespace: "default"})
			var text []string
			for _, f := range findings {
				text = append(text, f.String())
			}
			if tc.want == "" {
				assert.Empty(t, text)
				return
			}
			assert.Contains(t, strings.Join(text, "\n"), tc.want)
		})
	}
}
