package lint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/tranche-dev/tranche/analysis"
	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/notify"
	"github.com/tranche-dev/tranche/providers"
)

// Document is one object read from a file.
type Document struct {
	Source string // the file, for messages
	Object *unstructured.Unstructured
}

// Read splits a stream of YAML (or JSON) documents into objects, skipping empty ones and
// those without a kind.
func Read(source string, r io.Reader) ([]Document, error) {
	decoder := utilyaml.NewYAMLOrJSONDecoder(r, 4096)
	var docs []Document
	for {
		var raw json.RawMessage
		err := decoder.Decode(&raw)
		switch {
		case errors.Is(err, io.EOF):
			return docs, nil
		case err != nil:
			return nil, fmt.Errorf("%s: %w", source, err)
		case len(raw) == 0 || string(raw) == "null":
			continue
		}
		var meta struct{ Kind string }
		if err := json.Unmarshal(raw, &meta); err != nil || meta.Kind == "" {
			continue // not a Kubernetes object (a kustomization.yaml, say): nothing to check
		}
		// Unstructured's own decoding keeps integers int64, as the API server does; CEL
		// tells an int from a float.
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(raw); err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		docs = append(docs, Document{Source: source, Object: obj})
	}
}

// Finding is one thing wrong with one object. A warning does not make the lint fail.
type Finding struct {
	Source, Object, Field, Message string
	Warning                        bool
}

func (f Finding) String() string {
	level := "error"
	if f.Warning {
		level = "warning"
	}
	field := ""
	if f.Field != "" {
		field = f.Field + ": "
	}
	return fmt.Sprintf("%s: %s: %s: %s%s", f.Source, f.Object, level, field, f.Message)
}

// Options change what Lint checks beyond the schemas.
type Options struct {
	// Providers are the providers to accept, with their built-in queries: the plugin passes
	// those it was built with, the same as the controller of the same version.
	Providers providers.Registry
	// Namespace is given to objects that name none, as kubectl apply -n would.
	Namespace string
	// Prometheus, when set, is asked every query once; queries of MetricTemplates that name
	// their own Prometheus go there instead.
	Prometheus string
	// Now is the time queries are evaluated at.
	Now time.Time
}

// Lint checks the documents: every object of Tranche's API group against its schema, then
// each valid Rollout's provider and metrics. Objects of other groups are passed over.
func Lint(ctx context.Context, schemas *Schemas, docs []Document, opts Options) []Finding {
	var findings []Finding
	var rollouts []rolloutChecker
	templates := map[string]*trancheapi.MetricTemplate{} // filled before the Rollouts are checked
	for _, doc := range docs {
		obj := doc.Object
		gvk := obj.GroupVersionKind()
		if gvk.Group != trancheapi.GroupVersion.Group {
			continue
		}
		if obj.GetNamespace() == "" {
			obj.SetNamespace(opts.Namespace)
		}
		name := obj.GetKind() + "/" + obj.GetName()
		defaulted, errs := schemas.Validate(ctx, obj)
		for _, err := range errs {
			findings = append(findings, Finding{Source: doc.Source, Object: name, Field: err.Field, Message: err.ErrorBody()})
		}
		if len(errs) > 0 {
			continue
		}
		var err error
		switch obj.GetKind() {
		case "Rollout":
			ro := &trancheapi.Rollout{}
			if err = runtime.DefaultUnstructuredConverter.FromUnstructured(defaulted.Object, ro); err == nil {
				rollouts = append(rollouts, rolloutChecker{doc: doc, ro: ro, templates: templates, opts: opts, totals: map[string]string{}})
			}
		case "MetricTemplate":
			tmpl := &trancheapi.MetricTemplate{}
			if err = runtime.DefaultUnstructuredConverter.FromUnstructured(defaulted.Object, tmpl); err == nil {
				templates[tmpl.Namespace+"/"+tmpl.Name] = tmpl
				findings = append(findings, checkTemplate(doc, name, tmpl)...)
			}
		case "NotificationProvider":
			p := &trancheapi.NotificationProvider{}
			if err = runtime.DefaultUnstructuredConverter.FromUnstructured(defaulted.Object, p); err == nil {
				for _, bad := range each(notify.CheckTemplates(p.Spec.Templates)) {
					findings = append(findings, Finding{Source: doc.Source, Object: name, Field: "spec.templates",
						Message: bad.Error() + " (the controller would send Tranche's own words in its place)"})
				}
			}
		}
		if err != nil {
			findings = append(findings, Finding{Source: doc.Source, Object: name, Message: err.Error()})
		}
	}
	for _, c := range rollouts {
		findings = append(findings, c.check(ctx)...)
	}
	return findings
}

// checkTemplate checks a MetricTemplate on its own, whichever Rollouts use it (they may not be
// among the files): each of its queries renders for a Rollout of its namespace, and what it
// renders is PromQL that parses.
func checkTemplate(doc Document, name string, tmpl *trancheapi.MetricTemplate) []Finding {
	var findings []Finding
	vars := analysis.VarsFor(exampleRollout(tmpl.Namespace))
	for _, q := range []struct{ field, query string }{{"spec.query", tmpl.Spec.Query}, {"spec.totalQuery", tmpl.Spec.TotalQuery}} {
		if q.query == "" {
			continue
		}
		rendered, err := analysis.Render(q.query, vars)
		if err != nil {
			findings = append(findings, Finding{Source: doc.Source, Object: name, Field: q.field, Message: "does not render: " + err.Error()})
			continue
		}
		if _, err := parser.NewParser(parser.Options{}).ParseExpr(rendered); err != nil {
			findings = append(findings, Finding{Source: doc.Source, Object: name, Field: q.field,
				Message: fmt.Sprintf("renders to %s, which Prometheus would refuse: %v", rendered, err)})
		}
	}
	return findings
}

// exampleRollout is a Rollout a MetricTemplate of the namespace could serve, for rendering
// its queries.
func exampleRollout(namespace string) *trancheapi.Rollout {
	return &trancheapi.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "example"},
		Spec:       trancheapi.RolloutSpec{TargetRef: trancheapi.TargetRef{Kind: "Deployment", Name: "example"}},
	}
}

// each is the errors errors.Join joined, or err alone.
func each(err error) []error {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		return joined.Unwrap()
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

// rolloutChecker checks what the API server cannot see in one valid Rollout.
type rolloutChecker struct {
	doc       Document
	ro        *trancheapi.Rollout
	templates map[string]*trancheapi.MetricTemplate
	opts      Options
	findings  []Finding
	totals    map[string]string // each Compare metric's totalQuery, by metric name
}

func (c *rolloutChecker) report(path *field.Path, warning bool, format string, args ...any) {
	c.findings = append(c.findings, Finding{
		Source: c.doc.Source, Object: "Rollout/" + c.ro.Name, Field: path.String(),
		Message: fmt.Sprintf(format, args...), Warning: warning,
	})
}

func (c *rolloutChecker) check(ctx context.Context) []Finding {
	router, err := c.opts.Providers.For(nil, c.ro)
	if err != nil {
		c.report(field.NewPath("spec", "provider"), false, "%v", err)
		return c.findings
	}
	if c.ro.Spec.Analysis == nil {
		return c.findings
	}
	for i, m := range c.ro.Spec.Analysis.Metrics {
		path := field.NewPath("spec", "analysis", "metrics").Index(i)
		query, cfg, ok := c.query(router, m, path)
		if !ok {
			continue
		}
		if m.Judge == trancheapi.JudgeCompare {
			c.checkCompare(m, path, query)
			continue
		}
		rendered, err := analysis.Render(query, analysis.VarsFor(c.ro))
		if err != nil {
			c.report(path, false, "the query of metric %s does not render: %v", m.Name, err)
			continue
		}
		if cfg.Address != "" {
			c.ask(ctx, path, m.Name, cfg, rendered)
		}
	}
	return c.findings
}

// query finds a metric's query template and the Prometheus to ask it (no address when none
// is to be asked); ok is false when there is nothing to check further.
func (c *rolloutChecker) query(router providers.Router, m trancheapi.Metric, path *field.Path) (string, analysis.PrometheusConfig, bool) {
	cfg := analysis.PrometheusConfig{Address: c.opts.Prometheus}
	if m.TemplateRef == nil {
		q, err := providers.BuiltinQueries(router).Query(m.Builtin)
		if err != nil {
			c.report(path.Child("builtin"), false, "%v", err)
			return "", cfg, false
		}
		return q, cfg, true
	}
	ns := m.TemplateRef.Namespace
	if ns == "" {
		ns = c.ro.Namespace
	}
	tmpl, found := c.templates[ns+"/"+m.TemplateRef.Name]
	if !found {
		c.report(path.Child("templateRef"), true, "MetricTemplate %s/%s is not among the files checked: its query was not checked", ns, m.TemplateRef.Name)
		return "", cfg, false
	}
	// Credentials live in Secrets, which lint does not read: a server that needs them
	// answers with an error, reported as such.
	if cfg.Address != "" {
		cfg = analysis.TemplateConfig(tmpl.Spec.Prometheus, cfg.Address)
	}
	c.totals[m.Name] = tmpl.Spec.TotalQuery
	return tmpl.Spec.Query, cfg, true
}

// checkCompare renders a Compare metric's queries as the controller does for the canary; they
// are not asked, since they count over a window that starts with a step.
func (c *rolloutChecker) checkCompare(m trancheapi.Metric, path *field.Path, query string) {
	vars := analysis.VarsFor(c.ro).ForWorkload(c.ro, true, c.ro.Spec.EffectiveInterval())
	queries := map[string]string{"query": query}
	if m.EffectiveCompare().Kind == trancheapi.CompareErrorRate {
		total := c.totals[m.Name]
		if total == "" {
			c.report(path.Child("templateRef"), false, "metric %s compares error rates: its MetricTemplate needs a totalQuery counting the workload's requests", m.Name)
			return
		}
		queries["totalQuery"] = total
	}
	for name, q := range queries {
		if _, err := analysis.Render(q, vars); err != nil {
			c.report(path, false, "the %s of metric %s does not render: %v", name, m.Name, err)
		}
	}
}

// ask runs a rendered query once and reports an error or no data.
func (c *rolloutChecker) ask(ctx context.Context, path *field.Path, metric string, cfg analysis.PrometheusConfig, query string) {
	prom, err := analysis.NewPrometheus(cfg)
	if err != nil {
		c.report(path, false, "metric %s: %v", metric, err)
		return
	}
	// A value is all that is asked for: the thresholds judge it during a rollout.
	_, err = prom.Query(ctx, query, c.opts.Now)
	switch {
	case errors.Is(err, analysis.ErrNoData):
		c.report(path, true, "metric %s returns no data from %s now (expected before a release sends the canary traffic)", metric, cfg.Address)
	case err != nil:
		c.report(path, false, "metric %s: %v", metric, err)
	}
}
