// Package grafana makes Tranche's Grafana dashboard, config/grafana/tranche.json (`make
// manifests` writes it, and the Helm chart ships it as a ConfigMap for Grafana's sidecar):
// the manager's metrics, and each provider's request metrics of the canary beside the
// primary, made from the same providers.RequestMetrics as the built-in metrics' queries.
package grafana

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/template"

	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/registry"
)

// Dashboard is a Grafana dashboard, as much of its JSON model as Tranche's uses.
type Dashboard struct {
	UID           string      `json:"uid"`
	Title         string      `json:"title"`
	Description   string      `json:"description"`
	Tags          []string    `json:"tags"`
	SchemaVersion int         `json:"schemaVersion"`
	Editable      bool        `json:"editable"`
	Refresh       string      `json:"refresh"`
	Time          TimeRange   `json:"time"`
	Templating    Templating  `json:"templating"`
	Panels        []Panel     `json:"panels"`
	Annotations   Annotations `json:"annotations"`
}

// TimeRange is the dashboard's default time range.
type TimeRange struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Templating holds the dashboard's variables.
type Templating struct {
	List []Variable `json:"list"`
}

// Annotations are none of Tranche's own (Grafana adds its built-in one).
type Annotations struct {
	List []any `json:"list"`
}

// Variable is a dashboard variable: the data source, or a query of label values.
type Variable struct {
	Name        string      `json:"name"`
	Label       string      `json:"label"`
	Type        string      `json:"type"`
	Description string      `json:"description,omitempty"`
	Query       any         `json:"query"`
	Definition  string      `json:"definition,omitempty"`
	Datasource  *Datasource `json:"datasource,omitempty"`
	Refresh     int         `json:"refresh,omitempty"` // 2: on every change of the time range
	IncludeAll  bool        `json:"includeAll"`
	AllValue    string      `json:"allValue,omitempty"`
	Hide        int         `json:"hide"` // 0: shown, 2: hidden
	Sort        int         `json:"sort,omitempty"`
}

// Datasource names the Prometheus the panels ask: the one the variable datasource chose.
type Datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

var prometheus = &Datasource{Type: "prometheus", UID: "${datasource}"}

// Panel is a row or a panel of queries.
type Panel struct {
	ID          int          `json:"id"`
	Type        string       `json:"type"`
	Title       string       `json:"title"`
	Description string       `json:"description,omitempty"`
	GridPos     GridPos      `json:"gridPos"`
	Datasource  *Datasource  `json:"datasource,omitempty"`
	Targets     []Target     `json:"targets,omitempty"`
	FieldConfig *FieldConfig `json:"fieldConfig,omitempty"`
	Collapsed   *bool        `json:"collapsed,omitempty"`
	Panels      []Panel      `json:"panels,omitempty"` // a row's, when collapsed
}

// GridPos is where a panel sits: 24 columns wide, in rows of 30 px.
type GridPos struct {
	H int `json:"h"`
	W int `json:"w"`
	X int `json:"x"`
	Y int `json:"y"`
}

// Target is one query of a panel.
type Target struct {
	RefID        string      `json:"refId"`
	Expr         string      `json:"expr"`
	LegendFormat string      `json:"legendFormat"`
	Datasource   *Datasource `json:"datasource"`
	Instant      bool        `json:"instant,omitempty"`
	Range        bool        `json:"range"`
}

// FieldConfig says the unit and bounds of a panel's values.
type FieldConfig struct {
	Defaults FieldDefaults `json:"defaults"`
	// Overrides are none; Grafana wants the list.
	Overrides []any `json:"overrides"`
}

// FieldDefaults are the unit and bounds of a panel's values.
type FieldDefaults struct {
	Unit string   `json:"unit,omitempty"`
	Min  *float64 `json:"min,omitempty"`
	Max  *float64 `json:"max,omitempty"`
}

// Queries are every query of the dashboard's panels, with the panel's title, for tests
// that run them.
func (d Dashboard) Queries() []PanelQuery {
	var all []PanelQuery
	var walk func([]Panel)
	walk = func(panels []Panel) {
		for _, p := range panels {
			for _, t := range p.Targets {
				all = append(all, PanelQuery{Panel: p.Title, Legend: t.LegendFormat, Expr: t.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return all
}

// PanelQuery is one query of one panel.
type PanelQuery struct {
	Panel, Legend, Expr string
}

// JSON is the dashboard as Grafana imports it.
func (d Dashboard) JSON() ([]byte, error) {
	data, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// The selectors of the manager's series of the Rollouts the variables chose.
const (
	rollouts = `namespace=~"${namespace}", name=~"${rollout}"`
	manager  = `job=~"${job}"`
)

// New makes Tranche's dashboard.
func New() (Dashboard, error) {
	traffic, err := trafficPanels()
	if err != nil {
		return Dashboard{}, err
	}
	var layout grid
	d := Dashboard{
		UID: "tranche", Title: "Tranche", SchemaVersion: 39, Editable: true, Refresh: "30s",
		Description: "Progressive delivery with Tranche: rollouts, analysis, notifications, the controller's health, and the canary beside the primary as each provider's data plane counts their requests.",
		Tags:        []string{"tranche", "progressive-delivery"},
		Time:        TimeRange{From: "now-6h", To: "now"},
		Templating:  Templating{List: variables()},
		Annotations: Annotations{List: []any{}},
	}
	d.Panels = slices.Concat(
		layout.row("Rollouts",
			layout.panel(8, 8, "stat", "Rollouts by phase", "", "",
				"The Rollouts the variables choose, counted by the phase they are in now.",
				target(`sum by (phase) (tranche_rollout_phase{`+rollouts+`})`, "{{phase}}")),
			layout.panel(16, 8, "timeseries", "Canary weight and measured share", "percent", "0-100",
				"The weight the data plane was last told, and the canary's share of requests that spec.analysis.verifyTraffic measured.",
				target(`tranche_rollout_canary_weight{`+rollouts+`}`, "{{namespace}}/{{name}} weight"),
				target(`tranche_analysis_value{`+rollouts+`, metric="traffic/share"}`, "{{namespace}}/{{name}} measured")),
			layout.panel(8, 8, "stat", "Promotions and rollbacks", "", "",
				"Rollouts that ended in the time range, by how: Succeeded, Failed or Aborted.",
				target(`sum by (result) (increase(tranche_rollout_duration_seconds_count{`+rollouts+`}[$__range]))`, "{{result}}")),
			layout.panel(8, 8, "timeseries", "Rollout duration (p90)", "s", "",
				"Time from the start of a rollout to its promotion or rollback.",
				target(`histogram_quantile(0.9, sum by (le, result) (rate(tranche_rollout_duration_seconds_bucket{`+rollouts+`}[$__rate_interval])))`, "{{result}}")),
			layout.panel(8, 8, "timeseries", "Step duration (p90)", "s", "",
				"How long each step held, from the data plane taking its split to the step passing.",
				target(`histogram_quantile(0.9, sum by (le, step) (rate(tranche_step_duration_seconds_bucket{`+rollouts+`}[$__rate_interval])))`, "step {{step}}")),
		),
		layout.row("Analysis",
			layout.panel(12, 8, "timeseries", "Checks by verdict", "ops", "",
				"Analysis checks run per second, by verdict (Pass, Fail, Inconclusive, Waiting).",
				target(`sum by (verdict) (rate(tranche_analysis_checks_total{`+rollouts+`}[$__rate_interval]))`, "{{verdict}}")),
			layout.panel(12, 8, "timeseries", "Metric values", "", "",
				"The value each metric's latest check measured.",
				target(`tranche_analysis_value{`+rollouts+`}`, "{{namespace}}/{{name}} {{metric}}")),
		),
		layout.row("Notifications",
			layout.panel(12, 8, "timeseries", "Notifications by result", "ops", "",
				"Slack, Teams and webhook deliveries per second by NotificationProvider and result: sent, failed, queue_full, rate_limited, duplicate.",
				target(`sum by (provider, result) (rate(tranche_notifications_total{`+manager+`}[$__rate_interval]))`, "{{provider}} {{result}}")),
			layout.panel(12, 8, "timeseries", "Rollout webhook calls by result", "ops", "",
				"Calls of the Rollouts' PostRollout, Rollback and Event webhooks per second, by result.",
				target(`sum by (webhook, result) (rate(tranche_webhook_calls_total{`+rollouts+`}[$__rate_interval]))`, "{{webhook}} {{result}}")),
		),
		layout.row("Controller",
			layout.panel(8, 8, "timeseries", "Reconciles", "ops", "",
				"Reconciles of Rollouts per second by result, and those that failed.",
				target(`sum by (result) (rate(controller_runtime_reconcile_total{`+manager+`, controller="rollout"}[$__rate_interval]))`, "{{result}}"),
				target(`sum(rate(controller_runtime_reconcile_errors_total{`+manager+`, controller="rollout"}[$__rate_interval]))`, "errors")),
			layout.panel(8, 8, "timeseries", "Work queue depth", "short", "",
				"Rollouts waiting for a reconcile.",
				target(`sum(workqueue_depth{`+manager+`, name="rollout"})`, "depth")),
			layout.panel(8, 8, "timeseries", "API client latency (p99)", "s", "",
				"The manager's requests to the API server, by verb.",
				target(`histogram_quantile(0.99, sum by (le, verb) (rate(rest_client_request_duration_seconds_bucket{`+manager+`}[$__rate_interval])))`, "{{verb}}")),
		),
		layout.row("Canary beside primary (the ${provider} provider's request metrics)", traffic(&layout)...),
	)
	return d, nil
}

func variables() []Variable {
	labels := func(name, label, description, query string, all bool) Variable {
		v := Variable{
			Name: name, Label: label, Type: "query", Description: description, Datasource: prometheus,
			Query: map[string]string{"query": query, "refId": name}, Definition: query, Refresh: 2, Sort: 1, IncludeAll: all,
		}
		if all {
			v.AllValue = ".*"
		}
		return v
	}
	provider := labels("provider", "Provider", "Whose request metrics the last row shows: the chosen Rollout's provider.",
		`label_values(tranche_rollout_info{namespace=~"${namespace}", name=~"${rollout}"}, provider)`, false)
	target := labels("target", "Target", "The chosen Rollout's target Deployment (or DaemonSet).",
		`label_values(tranche_rollout_info{namespace=~"${namespace}", name=~"${rollout}"}, target)`, false)
	target.Hide = 2
	return []Variable{
		{Name: "datasource", Label: "Prometheus", Type: "datasource", Query: "prometheus"},
		labels("job", "Manager", "The scrape job of the Tranche manager.", `label_values(tranche_rollout_info, job)`, true),
		labels("namespace", "Namespace", "", `label_values(tranche_rollout_info{job=~"${job}"}, namespace)`, true),
		labels("rollout", "Rollout", "", `label_values(tranche_rollout_info{job=~"${job}", namespace=~"${namespace}"}, name)`, true),
		provider, target,
	}
}

// trafficPanels are the request success rate and duration of the canary and the primary,
// from the request metrics of the provider the variable chose. Each provider's queries are
// guarded by a comparison of the variable with its name, and joined with `or`: only the
// chosen provider's answer.
func trafficPanels() (func(*grid) []Panel, error) {
	var success, duration [2][]string // canary, primary
	reg := registry.Default()
	for _, name := range slices.Sorted(maps.Keys(reg)) {
		families := reg[name](nil).RequestMetrics()
		if len(families) == 0 {
			continue
		}
		guard := fmt.Sprintf(` and on() (label_replace(vector(1), "provider", "${provider}", "", "") and on(provider) label_replace(vector(1), "provider", %q, "", ""))`, name)
		for side := range 2 {
			var sides []providers.RequestMetrics
			for _, f := range families {
				if side == 1 {
					var ok bool
					if f, ok = f.OfPrimary(); !ok {
						continue
					}
				}
				sides = append(sides, f)
			}
			if len(sides) < len(families) {
				continue // the data plane's metrics cannot tell the primary's requests
			}
			var queries []providers.Queries
			for _, f := range sides {
				queries = append(queries, f.Queries())
			}
			q := providers.Either(queries...)
			for _, each := range []struct {
				into  *[]string
				query string
			}{{&success[side], q["request-success-rate"]}, {&duration[side], q["request-duration"]}} {
				expr, err := fill(each.query)
				if err != nil {
					return nil, fmt.Errorf("provider %s: %w", name, err)
				}
				*each.into = append(*each.into, "(\n"+expr+"\n)"+guard)
			}
		}
	}
	join := func(parts []string) string { return strings.Join(parts, "\nor\n") }
	return func(layout *grid) []Panel {
		return []Panel{
			layout.panel(12, 9, "timeseries", "Request success rate", "percent", "",
				"The percent of the canary's and of the primary's requests that succeeded, as the built-in metric request-success-rate counts them.",
				target(join(success[0]), "canary"), target(join(success[1]), "primary")),
			layout.panel(12, 9, "timeseries", "Request duration (p99)", "ms", "",
				"The 99th percentile of the canary's and of the primary's request duration, as the built-in metric request-duration measures it.",
				target(join(duration[0]), "canary"), target(join(duration[1]), "primary")),
		}
	}, nil
}

// fill writes a built-in query template with the dashboard's variables in place of the
// Rollout's names, and Grafana's rate interval in place of the analysis interval.
func fill(query string) (string, error) {
	tmpl, err := template.New("query").Option("missingkey=error").Parse(query)
	if err != nil {
		return "", err
	}
	var out strings.Builder
	err = tmpl.Execute(&out, map[string]string{
		"Rollout": "${rollout}", "Namespace": "${namespace}", "Target": "${target}",
		"Canary": "${target}", "Primary": "${target}-primary", "Interval": "$__rate_interval",
	})
	return out.String(), err
}

func target(expr, legend string) Target {
	return Target{Expr: expr, LegendFormat: legend, Datasource: prometheus, Range: true}
}

// grid lays panels out left to right in the rows of the dashboard, a row's panels on as many
// lines as their widths need. A row's panels are made before the row (they are its
// arguments), so they are placed within the row, and the row moves them below its title.
type grid struct {
	id, y int // the last id given, and the top of the next row
	// Within the row being filled: where the next panel goes, and the line's height.
	x, lineY, lineH int
}

func (g *grid) row(title string, panels ...Panel) []Panel {
	g.id++
	row := Panel{ID: g.id, Type: "row", Title: title, GridPos: GridPos{H: 1, W: 24, X: 0, Y: g.y}, Collapsed: new(bool)}
	for i := range panels {
		panels[i].GridPos.Y += g.y + 1
	}
	g.y += 1 + g.lineY + g.lineH
	g.x, g.lineY, g.lineH = 0, 0, 0
	return append([]Panel{row}, panels...)
}

// panel is a panel w columns (of 24) wide and h high; bounds "0-100" sets its minimum and
// maximum.
func (g *grid) panel(w, h int, kind, title, unit, bounds, description string, targets ...Target) Panel {
	if g.x+w > 24 {
		g.x, g.lineY, g.lineH = 0, g.lineY+g.lineH, 0
	}
	g.id++
	for i := range targets {
		targets[i].RefID = string(rune('A' + i))
		if kind == "stat" {
			targets[i].Instant, targets[i].Range = true, false
		}
	}
	p := Panel{
		ID: g.id, Type: kind, Title: title, Description: description, Datasource: prometheus, Targets: targets,
		GridPos:     GridPos{H: h, W: w, X: g.x, Y: g.lineY},
		FieldConfig: &FieldConfig{Defaults: FieldDefaults{Unit: unit}, Overrides: []any{}},
	}
	if bounds == "0-100" {
		low, high := 0.0, 100.0
		p.FieldConfig.Defaults.Min, p.FieldConfig.Defaults.Max = &low, &high
	}
	g.x += w
	g.lineH = max(g.lineH, h)
	return p
}
