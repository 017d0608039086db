package controllers

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tranche-dev/tranche/analysis"
	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/controllers/planner"
)

// references is what a Rollout refers to, as found in the cluster.
type references struct {
	// targetKind and targetKey name the target; target is nil when it does not exist.
	targetKind string
	targetKey  types.NamespacedName
	target     client.Object // a Deployment or a DaemonSet

	templates        int
	missingTemplates []objectRef
	// badTemplate, when set, says which template's queries do not render, and why.
	badTemplate      string
	providers        int
	missingProviders []objectRef
}

// objectRef is a reference to an object, with the spec field that holds it.
type objectRef struct {
	key   types.NamespacedName
	field string
}

// problem returns nil when every reference resolves, else the first kind of missing
// reference: the target, then metric templates, then notification providers.
func (refs references) problem() *planner.Problem {
	switch {
	case refs.target == nil:
		return &planner.Problem{
			Reason: trancheapi.ReasonTargetNotFound,
			Message: fmt.Sprintf("%s %q not found in namespace %q: create it, or fix spec.targetRef",
				refs.targetKind, refs.targetKey.Name, refs.targetKey.Namespace),
		}
	case len(refs.missingTemplates) > 0:
		return &planner.Problem{
			Reason:  trancheapi.ReasonTemplateNotFound,
			Message: "MetricTemplate " + describeMissing(refs.missingTemplates) + ": create it, or fix the reference",
		}
	case refs.badTemplate != "":
		return &planner.Problem{Reason: trancheapi.ReasonTemplateInvalid, Message: refs.badTemplate}
	case len(refs.missingProviders) > 0:
		return &planner.Problem{
			Reason:  trancheapi.ReasonProviderNotFound,
			Message: "NotificationProvider " + describeMissing(refs.missingProviders) + ": create it, or fix the reference",
		}
	}
	return nil
}

func describeMissing(missing []objectRef) string {
	parts := make([]string, 0, len(missing))
	for _, m := range missing {
		parts = append(parts, fmt.Sprintf("%q (%s)", m.key.String(), m.field))
	}
	return strings.Join(parts, ", ") + " not found"
}

// readReferences looks up everything the Rollout refers to. Missing objects are recorded,
// not returned as errors; only failures to ask the API server are errors.
func readReferences(ctx context.Context, c client.Reader, ro *trancheapi.Rollout) (references, error) {
	refs := references{targetKind: ro.Spec.TargetRef.Kind, targetKey: types.NamespacedName{Namespace: ro.Namespace, Name: ro.Spec.TargetRef.Name}}

	target := newWorkload(refs.targetKind)
	switch err := c.Get(ctx, refs.targetKey, target); {
	case apierrors.IsNotFound(err):
	case err != nil:
		return refs, fmt.Errorf("reading target %s %s: %w", refs.targetKind, refs.targetKey, err)
	default:
		refs.target = target
	}

	var err error
	if refs.templates, refs.missingTemplates, err = resolve(ctx, c, templateRefs(ro), &trancheapi.MetricTemplate{}); err != nil {
		return refs, err
	}
	if len(refs.missingTemplates) == 0 {
		if refs.badTemplate, err = unrenderedTemplate(ctx, c, ro); err != nil {
			return refs, err
		}
	}
	if refs.providers, refs.missingProviders, err = resolve(ctx, c, providerRefs(ro), &trancheapi.NotificationProvider{}); err != nil {
		return refs, err
	}
	return refs, nil
}

// templateRefs lists the MetricTemplates a Rollout refers to, in the order of its metrics.
func templateRefs(ro *trancheapi.Rollout) []objectRef {
	if ro.Spec.Analysis == nil {
		return nil
	}
	var refs []objectRef
	for i, m := range ro.Spec.Analysis.Metrics {
		if m.TemplateRef != nil {
			refs = append(refs, objectRef{
				key:   namespaced(*m.TemplateRef, ro.Namespace),
				field: fmt.Sprintf("spec.analysis.metrics[%d].templateRef", i),
			})
		}
	}
	return refs
}

// unrenderedTemplate renders the queries of every MetricTemplate the Rollout's metrics use,
// with the variables an analysis run gives them (a Compare metric's those of one workload,
// and its totalQuery too): a template that does not parse, or uses a variable there is none
// of, would make every run inconclusive, so it stalls the Rollout instead, with the parse
// error. It returns what to tell the user, or "" when every query renders.
func unrenderedTemplate(ctx context.Context, c client.Reader, ro *trancheapi.Rollout) (string, error) {
	if ro.Spec.Analysis == nil {
		return "", nil
	}
	for i, m := range ro.Spec.Analysis.Metrics {
		if m.TemplateRef == nil {
			continue
		}
		key := namespaced(*m.TemplateRef, ro.Namespace)
		tmpl := &trancheapi.MetricTemplate{}
		if err := c.Get(ctx, key, tmpl); err != nil {
			return "", fmt.Errorf("reading %s: %w", key, err)
		}
		vars := analysis.VarsFor(ro)
		queries := []struct{ field, query string }{{"query", tmpl.Spec.Query}}
		if m.Judge == trancheapi.JudgeCompare {
			vars = vars.ForWorkload(ro, true, ro.Spec.EffectiveInterval())
			queries = append(queries, struct{ field, query string }{"totalQuery", tmpl.Spec.TotalQuery})
		}
		for _, q := range queries {
			if q.query == "" {
				continue
			}
			if _, err := analysis.Render(q.query, vars); err != nil {
				return fmt.Sprintf("MetricTemplate %q (spec.analysis.metrics[%d].templateRef): spec.%s does not render: %v: fix the template",
					key.String(), i, q.field, err), nil
			}
		}
	}
	return "", nil
}

// providerRefs lists the NotificationProviders a Rollout refers to.
func providerRefs(ro *trancheapi.Rollout) []objectRef {
	refs := make([]objectRef, 0, len(ro.Spec.Notify))
	for i, n := range ro.Spec.Notify {
		refs = append(refs, objectRef{
			key:   namespaced(n.ProviderRef, ro.Namespace),
			field: fmt.Sprintf("spec.notify[%d].providerRef", i),
		})
	}
	return refs
}

// resolve counts the references that exist and returns those that do not.
func resolve(ctx context.Context, c client.Reader, refs []objectRef, obj client.Object) (int, []objectRef, error) {
	found := 0
	var missing []objectRef
	for _, ref := range refs {
		switch err := c.Get(ctx, ref.key, obj); {
		case apierrors.IsNotFound(err):
			missing = append(missing, ref)
		case err != nil:
			return found, missing, fmt.Errorf("reading %s: %w", ref.key, err)
		default:
			found++
		}
	}
	return found, missing, nil
}

func namespaced(ref trancheapi.NamespacedObjectReference, defaultNamespace string) types.NamespacedName {
	ns := ref.Namespace
	if ns == "" {
		ns = defaultNamespace
	}
	return types.NamespacedName{Namespace: ns, Name: ref.Name}
}
