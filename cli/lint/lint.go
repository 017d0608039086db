package lint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/tranche-dev/tranche/analysis"
	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
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
	// Providers are the providers the controller supports, with their built-in queries.
	Providers providers.Registry
	// Namespace is given to objects that name none, as kubectl apply -n would.
	Namespace string
	// Prometheus, when set, is asked every query once; queries of MetricTemplates that name
	// their own Prometheus go there instead.
	Prometheus string
	// Now is the time queries are evaluated at.
	Now time.Time
}

// Lint checks the documents: every Tranche object against its schema, then each valid
// Rollout's provider and metrics. Objects of other kinds are passed over.
func Lint(ctx context.Context, schemas *Schemas, docs []Document, opts Options) []Finding {
	var findings []Finding
	var rollouts []Document
	templates := map[string]*trancheapi.MetricTemplate{}
	for _, doc := range docs {
		obj := doc.Object
		if !schemas.Knows(obj.GroupVersionKind()) {
			continue
		}
		if obj.GetNamespace() == "" {
			obj.SetNamespace(opts.Namespace)
		}
		name := obj.GetKind() + "/" + obj.GetName()
		if errs := schemas.Validate(ctx, obj); len(errs) > 0 {
			for _, err := range errs {
				findings = append(findings, Finding{Source: doc.Source, Object: name, Field: err.Field, Message: err.ErrorBody()})
			}
			continue
		}
		switch obj.GetKind() {
		case "Rollout":
			rollouts = append(rollouts, doc)
		case "MetricTemplate":
			tmpl := &trancheapi.MetricTemplate{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, tmpl); err == nil {
				templates[tmpl.Namespace+"/"+tmpl.Name] = tmpl
			}
		}
	}
	for _, doc := range rollouts {
		ro := &trancheapi.Rollout{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(doc.Object.Object, ro); err != nil {
			findings = append(findings, Finding{Source: doc.Source, Object: "Rollout/" + doc.Object.GetName(), Message: err.Error()})
			continue
		}
		c := rolloutChecker{doc: doc, ro: ro, templates: templates, opts: opts}
		findings = append(findings, c.check(ctx)...)
	}
	return findings
}

// rolloutChecker checks what the API server cannot see in one valid Rollout.
type rolloutChecker struct {
	doc       Document
	ro        *trancheapi.Rollout
	templates map[string]*trancheapi.MetricTemplate
	opts      Options
	findings  []Finding
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
		query, address, ok := c.query(router, m, path)
		if !ok {
			continue
		}
		rendered, err := analysis.Render(query, analysis.VarsFor(c.ro))
		if err != nil {
			c.report(path, false, "the query of metric %s does not render: %v", m.Name, err)
			continue
		}
		if address != "" {
			c.ask(ctx, path, m.Name, address, rendered)
		}
	}
	return c.findings
}

// query finds a metric's query template and the Prometheus to ask it (when one is to be
// asked); ok is false when there is nothing to check further.
func (c *rolloutChecker) query(router providers.Router, m trancheapi.Metric, path *field.Path) (query, address string, ok bool) {
	if m.TemplateRef == nil {
		q, err := router.BuiltinQuery(m.Builtin)
		if err != nil {
			c.report(path.Child("builtin"), false, "%v", err)
			return "", "", false
		}
		return q, c.opts.Prometheus, true
	}
	ns := m.TemplateRef.Namespace
	if ns == "" {
		ns = c.ro.Namespace
	}
	tmpl, found := c.templates[ns+"/"+m.TemplateRef.Name]
	if !found {
		c.report(path.Child("templateRef"), true, "MetricTemplate %s/%s is not among the files checked: its query was not checked", ns, m.TemplateRef.Name)
		return "", "", false
	}
	address = c.opts.Prometheus
	if p := tmpl.Spec.Prometheus; address != "" && p != nil && p.Address != "" {
		address = p.Address
	}
	return tmpl.Spec.Query, address, true
}

// ask runs a rendered query once and reports an error or no data.
func (c *rolloutChecker) ask(ctx context.Context, path *field.Path, metric, address, query string) {
	prom, err := analysis.NewPrometheus(analysis.PrometheusConfig{Address: address})
	if err != nil {
		c.report(path, false, "metric %s: %v", metric, err)
		return
	}
	// A value is all that is asked for: the thresholds judge it during a rollout.
	_, err = prom.Query(ctx, query, c.opts.Now)
	switch {
	case errors.Is(err, analysis.ErrNoData):
		c.report(path, true, "metric %s returns no data from %s now (expected before a release sends the canary traffic)", metric, address)
	case err != nil:
		c.report(path, false, "metric %s: %v", metric, err)
	}
}
