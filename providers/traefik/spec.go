package traefik

import (
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
)

// setSpec writes the section of the TraefikService that Tranche owns: weighted for a split,
// mirroring for a mirror. Traefik serves one kind at a time (weighted wins when both are
// set), so the other section goes; what the user had set in it besides the backends (sticky
// sessions, say) waits in an annotation and comes back with the section.
func setSpec(ts *unstructured.Unstructured, ro *trancheapi.Rollout, routes providers.Routes) error {
	names, port := ro.ServiceNames(), int64(ro.Spec.Service.Port)
	backend := func(name string) map[string]any {
		b := map[string]any{"name": name, "port": port}
		if p := ro.Spec.Provider.Traefik; p != nil && p.NativeLB {
			b["nativeLB"] = true
		}
		return b
	}
	if routes.MirrorPercent > 0 {
		if weighted, ok, _ := unstructured.NestedMap(ts.Object, "spec", "weighted"); ok {
			if err := setSticky(ts, weighted, nil); err != nil {
				return err
			}
			_ = unstructured.SetNestedMap(ts.Object, weighted, "spec", "weighted")
		}
		if err := stash(ts, "weighted", "services"); err != nil {
			return err
		}
		mirroring, err := unstash(ts, "mirroring")
		if err != nil {
			return err
		}
		mirror := backend(names.Canary)
		mirror["percent"] = int64(routes.MirrorPercent)
		mirroring["name"], mirroring["port"], mirroring["mirrors"] = names.Primary, port, []any{mirror}
		return unstructured.SetNestedMap(ts.Object, mirroring, "spec", "mirroring")
	}
	if err := stash(ts, "mirroring", "name", "port", "mirrors"); err != nil {
		return err
	}
	weighted, err := unstash(ts, "weighted")
	if err != nil {
		return err
	}
	primary, canary := backend(names.Primary), backend(names.Canary)
	primaryWeight, canaryWeight := providers.Split(routes.CanaryWeight)
	primary["weight"], canary["weight"] = int64(primaryWeight), int64(canaryWeight)
	weighted["services"] = []any{primary, canary}
	if err := setSticky(ts, weighted, routes.Sticky); err != nil {
		return err
	}
	return unstructured.SetNestedMap(ts.Object, weighted, "spec", "weighted")
}

// stashPrefix names the annotations that keep a section's user fields while it is away.
const stashPrefix = "tranche.dev/traefik-"

// stash removes spec.<section>, keeping its fields other than Tranche's in an annotation.
func stash(ts *unstructured.Unstructured, section string, tranches ...string) error {
	fields, ok, _ := unstructured.NestedMap(ts.Object, "spec", section)
	if !ok {
		return nil
	}
	unstructured.RemoveNestedField(ts.Object, "spec", section)
	for _, f := range tranches {
		delete(fields, f)
	}
	if len(fields) == 0 {
		return nil
	}
	data, err := json.Marshal(fields)
	if err != nil {
		return err
	}
	annotations := ts.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[stashPrefix+section] = string(data)
	ts.SetAnnotations(annotations)
	return nil
}

// unstash returns spec.<section>, or the fields stashed for it when it is absent.
func unstash(ts *unstructured.Unstructured, section string) (map[string]any, error) {
	if fields, ok, _ := unstructured.NestedMap(ts.Object, "spec", section); ok {
		return fields, nil
	}
	fields := map[string]any{}
	annotations := ts.GetAnnotations()
	if data, ok := annotations[stashPrefix+section]; ok {
		if err := json.Unmarshal([]byte(data), &fields); err != nil {
			return nil, fmt.Errorf("annotation %s%s: %w", stashPrefix, section, err)
		}
		delete(annotations, stashPrefix+section)
		ts.SetAnnotations(annotations)
	}
	return fields, nil
}

// routesOf reads the split the TraefikService says. Anything else than the two backends
// Tranche writes is unreadable: SetRoutes writes them again.
func routesOf(ts *unstructured.Unstructured, ro *trancheapi.Rollout) (providers.Routes, error) {
	names := ro.ServiceNames()
	if mirroring, ok, _ := unstructured.NestedMap(ts.Object, "spec", "mirroring"); ok {
		mirrors, _, _ := unstructured.NestedSlice(mirroring, "mirrors")
		if mirroring["name"] != names.Primary || len(mirrors) != 1 {
			return providers.Routes{}, unreadable(ts, "its mirroring is not the primary mirrored to the canary")
		}
		mirror, _ := mirrors[0].(map[string]any)
		percent, ok := number(mirror["percent"])
		if mirror["name"] != names.Canary || !ok {
			return providers.Routes{}, unreadable(ts, "its mirror is not the canary with a percent")
		}
		return providers.Routes{MirrorPercent: int32(percent)}, nil
	}
	services, _, _ := unstructured.NestedSlice(ts.Object, "spec", "weighted", "services")
	weights := map[string]int32{}
	for _, s := range services {
		service, _ := s.(map[string]any)
		name, _ := service["name"].(string)
		w, ok := number(service["weight"])
		if !ok {
			w = 1 // Traefik's default weight
		}
		weights[name] += int32(w)
	}
	// Traefik weights are relative; Tranche writes percents, so this is exact for its own.
	percent, err := providers.CanaryPercent(weights[names.Primary], weights[names.Canary])
	if len(weights) != 2 || err != nil {
		return providers.Routes{}, unreadable(ts, "its weighted services are not the primary and the canary")
	}
	return providers.Routes{CanaryWeight: percent, Sticky: stickyOf(ts)}, nil
}

func number(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case float64:
		return int64(n), n == float64(int64(n))
	}
	return 0, false
}

func unreadable(ts *unstructured.Unstructured, why string) error {
	return fmt.Errorf("TraefikService %s/%s: %s: %w", ts.GetNamespace(), ts.GetName(), why, providers.ErrUnreadable)
}

// Traefik names a TraefikService's backends <namespace>-<service>-<port>@kubernetescrd in
// traefik_service_* metrics, so the canary's series are those of its Service.
const canarySeries = `service=~"{{ .Namespace }}-{{ .Target }}-canary-[0-9]+@kubernetescrd"`

// builtinQueries are over Traefik's own metrics, which measure seconds.
var builtinQueries = providers.RequestMetrics{
	Requests: "traefik_service_requests_total", Canary: canarySeries, Succeeded: `code!~"5.."`,
	DurationBuckets: "traefik_service_request_duration_seconds_bucket", DurationInSeconds: true,
}.Queries()

// BuiltinQueries are the query templates of the built-in metrics.
func (r *Router) BuiltinQueries() providers.Queries { return builtinQueries }

// Features says what a TraefikService can do.
func (r *Router) Features() providers.Features {
	return providers.Features{AnyWeight: true, Mirror: true, Sticky: true, Metrics: "Traefik"}
}
