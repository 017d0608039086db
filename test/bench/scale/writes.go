package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/tranche-dev/tranche/test/harness"
)

// writeKinds are the kinds of the manager's writes, in the order they are printed.
var writeKinds = []string{"status", "routes", "workloads", "services", "events", "other"}

// kindOf is the kind of a write to an object of a resource (and subresource).
func kindOf(e harness.AuditEvent) string {
	o := e.ObjectRef
	switch {
	case o.Resource == "rollouts" && o.Subresource == "status":
		return "status"
	case o.Resource == "httproutes", o.Resource == "virtualservices", o.Resource == "trafficsplits",
		o.Resource == "ingresses", o.Resource == "ingressroutes", o.Resource == "traefikservices":
		return "routes"
	case o.Resource == "deployments", o.Resource == "daemonsets", o.Resource == "horizontalpodautoscalers":
		return "workloads"
	case o.Resource == "services":
		return "services"
	case o.Resource == "events":
		return "events"
	}
	return "other"
}

// writesByKind counts the manager's writes the API server's audit log holds between from
// and to, by kind, and says which resources the "other" ones were.
func writesByKind(cp *harness.ControlPlane, from, to time.Time) (map[string]float64, string, error) {
	events, err := cp.Audit(managerAgent)
	if err != nil {
		return nil, "", err
	}
	counts := map[string]float64{}
	others := map[string]int{}
	for _, e := range events {
		if !e.Writes() || e.StageTimestamp.Before(from) || e.StageTimestamp.After(to) {
			continue
		}
		kind := kindOf(e)
		counts[kind]++
		if kind == "other" {
			others[strings.Trim(e.ObjectRef.Resource+"/"+e.ObjectRef.Subresource, "/")]++
		}
	}
	var list []string
	for resource, n := range others {
		list = append(list, fmt.Sprintf("%s %d", resource, n))
	}
	return counts, strings.Join(list, ", "), nil
}

// managerAgent is in the user agent of every request the manager makes (its Lease's name).
const managerAgent = "(lease tranche.dev)"
