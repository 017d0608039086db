package traefik

import (
	"encoding/json"
	"fmt"
	"maps"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/traffic"
)

// setSpec writes the section of the TraefikService that Tranche owns: weighted for a split,
// mirroring for a mirror. Traefik serves one kind at a time (weighted wins when both are
// set), so the other section goes; what the user had set in it besides the backends (sticky
// sessions, say) waits in an annotation and comes back with the section.
func setSpec(ts *unstructured.Unstructured, ro *trancheapi.Rollout, routes traffic.Routes) error {
	names := ro.ServiceNames()
	backend := func(name string) map[string]any { return backendOf(ro, name) }
	if routes.MirrorPercent > 0 {
		weighted, ok, err := section(ts, "weighted")
		if err != nil {
			return err
		}
		if ok {
			if err := setSticky(ts, weighted, nil); err != nil {
				return err
			}
			if err := unstructured.SetNestedMap(ts.Object, weighted, "spec", "weighted"); err != nil {
				return err
			}
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
		// The mirroring's own service, the primary, answers the clients: it is a backend
		// like the others (with nativeLB when they have it, or Traefik sends to pod IPs).
		delete(mirroring, "nativeLB")
		maps.Copy(mirroring, backend(names.Primary))
		mirroring["mirrors"] = []any{mirror}
		return unstructured.SetNestedMap(ts.Object, mirroring, "spec", "mirroring")
	}
	if err := stash(ts, "mirroring", "name", "port", "nativeLB", "mirrors"); err != nil {
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

// section reads spec.weighted or spec.mirroring. Tranche writes its backends there, and the
// user may have fields of their own there, which Tranche keeps: a section of the wrong type
// is theirs to fix.
func section(ts *unstructured.Unstructured, name string) (map[string]any, bool, error) {
	fields, ok, err := providers.Fields(ts).Get("spec", name).AsMap()
	return fields, ok, providers.Malformed(err)
}

// stash removes spec.<name>, keeping its fields other than Tranche's in an annotation.
func stash(ts *unstructured.Unstructured, name string, tranches ...string) error {
	fields, ok, err := section(ts, name)
	if err != nil || !ok {
		return err
	}
	unstructured.RemoveNestedField(ts.Object, "spec", name)
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
	annotations[stashPrefix+name] = string(data)
	ts.SetAnnotations(annotations)
	return nil
}

// unstash returns spec.<name>, or the fields stashed for it when it is absent.
func unstash(ts *unstructured.Unstructured, name string) (map[string]any, error) {
	if fields, ok, err := section(ts, name); err != nil || ok {
		return fields, err
	}
	fields := map[string]any{}
	annotations := ts.GetAnnotations()
	if data, ok := annotations[stashPrefix+name]; ok {
		if err := json.Unmarshal([]byte(data), &fields); err != nil {
			return nil, fmt.Errorf("annotation %s%s: %w", stashPrefix, name, err)
		}
		delete(annotations, stashPrefix+name)
		ts.SetAnnotations(annotations)
	}
	return fields, nil
}

// backendOf is a TraefikService's entry for the Rollout's Service of that name, at the
// Rollout's port.
func backendOf(ro *trancheapi.Rollout, name string) map[string]any {
	b := map[string]any{"name": name, "port": int64(ro.Spec.Service.Port)}
	if p := ro.Spec.Provider.Traefik; p != nil && p.NativeLB {
		b["nativeLB"] = true
	}
	return b
}

// routesOf reads the split the TraefikService says. Anything else than the two backends
// Tranche writes is unreadable, a field of theirs of the wrong type too: SetRoutes writes
// them again.
func routesOf(ts *unstructured.Unstructured, ro *trancheapi.Rollout) (traffic.Routes, error) {
	if _, mirrored, err := section(ts, "mirroring"); err != nil || mirrored {
		if err != nil {
			return traffic.Routes{}, err
		}
		routes, err := mirrorOf(providers.Fields(ts).Get("spec", "mirroring"), ro)
		if err != nil {
			return traffic.Routes{}, providers.Unreadable(err)
		}
		return routes, nil
	}
	if _, _, err := section(ts, "weighted"); err != nil {
		return traffic.Routes{}, err
	}
	routes, err := weightsOf(providers.Fields(ts).Get("spec", "weighted"), ro)
	if err == nil {
		routes.Sticky, err = stickyOf(ts)
	}
	if err != nil {
		return traffic.Routes{}, providers.Unreadable(err)
	}
	return routes, nil
}

// mirrorOf reads a mirroring section: the primary, mirrored to the canary.
func mirrorOf(mirroring providers.Field, ro *trancheapi.Rollout) (traffic.Routes, error) {
	names := ro.ServiceNames()
	name, _, err := mirroring.Get("name").AsString()
	if err != nil {
		return traffic.Routes{}, err
	}
	mirrors, _, err := mirroring.Get("mirrors").AsList()
	if err != nil {
		return traffic.Routes{}, err
	}
	if name != names.Primary || len(mirrors) != 1 {
		return traffic.Routes{}, mirroring.Invalid("is not the primary mirrored to the canary")
	}
	mirror, _, err := mirrors[0].Get("name").AsString()
	if err != nil {
		return traffic.Routes{}, err
	}
	percent, found, err := mirrors[0].Get("percent").AsInt()
	if err != nil {
		return traffic.Routes{}, err
	}
	if mirror != names.Canary || !found {
		return traffic.Routes{}, mirrors[0].Invalid("is not the canary with a percent")
	}
	return traffic.Routes{MirrorPercent: int32(percent)}, nil
}

// weightsOf reads a weighted section's split between the primary and the canary.
func weightsOf(weighted providers.Field, ro *trancheapi.Rollout) (traffic.Routes, error) {
	names := ro.ServiceNames()
	services, _, err := weighted.Get("services").AsList()
	if err != nil {
		return traffic.Routes{}, err
	}
	weights := map[string]int32{}
	for _, s := range services {
		name, _, err := s.Get("name").AsString()
		if err != nil {
			return traffic.Routes{}, err
		}
		w, found, err := s.Get("weight").AsInt()
		if err != nil {
			return traffic.Routes{}, err
		}
		if !found {
			w = 1 // Traefik's default weight
		}
		weights[name] += int32(w)
	}
	// Traefik weights are relative; Tranche writes percents, so this is exact for its own.
	percent, err := providers.CanaryPercent(weights[names.Primary], weights[names.Canary])
	if len(weights) != 2 || err != nil {
		return traffic.Routes{}, weighted.Get("services").Invalid("are not the primary and the canary")
	}
	return traffic.Routes{CanaryWeight: percent}, nil
}

// Traefik names a TraefikService's backends <namespace>-<service>-<port>@kubernetescrd in
// traefik_service_* metrics, so the canary's series are those of its Service, and the
// primary's those of the primary's.
const (
	canarySeries  = `service=~"{{ .Namespace }}-{{ .Target }}-canary-[0-9]+@kubernetescrd"`
	primarySeries = `service=~"{{ .Namespace }}-{{ .Target }}-primary-[0-9]+@kubernetescrd"`
)

// requestMetrics are Traefik's own metrics, which measure seconds.
var requestMetrics = providers.RequestMetrics{
	Requests: "traefik_service_requests_total", Canary: canarySeries, Primary: primarySeries, Succeeded: `code!~"5.."`,
	DurationBuckets: "traefik_service_request_duration_seconds_bucket", DurationInSeconds: true,
}

// RequestMetrics are the data plane's request metrics.
func (r *Router) RequestMetrics() []providers.RequestMetrics {
	return []providers.RequestMetrics{requestMetrics}
}

// Features says what a TraefikService can do.
func (r *Router) Features() providers.Features {
	return providers.Features{AnyWeight: true, Mirror: true, Sticky: true, Metrics: "Traefik"}
}
