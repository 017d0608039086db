package gatewayapi

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
)

// target is what the functions of this file need to know of a Rollout to recognise and
// write Tranche's parts of its route.
type target struct {
	name                  string // the route's
	namespace             string
	apex, primary, canary string // Service names
	port                  gatewayv1.PortNumber
	attachment            Attachment
	kind                  routeKind
	timeouts              *gatewayv1.HTTPRouteTimeouts // the spec's; nil leaves the rule's alone
}

// Attachment is what a route attaches to: parents (Gateways, or a Service in mesh mode)
// and the hostnames it answers for.
type Attachment struct {
	ParentRefs []trancheapi.ParentReference
	Hostnames  []string
}

// fromSpec attaches the route as spec.provider.gatewayAPI says.
func fromSpec(ro *trancheapi.Rollout) (Attachment, error) {
	p := ro.Spec.Provider.GatewayAPI
	if p == nil {
		return Attachment{}, fmt.Errorf("the Rollout %s/%s has no spec.provider.gatewayAPI", ro.Namespace, ro.Name)
	}
	return Attachment{ParentRefs: p.ParentRefs, Hostnames: p.Hostnames}, nil
}

// ToService attaches the route to the Rollout's own Service, as a mesh that implements Gateway
// API's mesh mode (GAMMA) expects: the mesh then splits the Service's traffic as the route says.
func ToService(ro *trancheapi.Rollout) (Attachment, error) {
	kind, group := "Service", ""
	return Attachment{ParentRefs: []trancheapi.ParentReference{{Group: &group, Kind: &kind, Name: ro.ServiceNames().Apex}}}, nil
}

// targetsOf lists the Rollout's routes, one for each of its Services' ports: the route of
// spec.service.port first, named after the Rollout, then one for each of spec.service.ports,
// named <rollout>-<port name>, each of its port's protocol's kind. Hostnames are for the
// kinds that have them, and the spec's timeouts for HTTPRoutes.
func (r *Router) targetsOf(ro *trancheapi.Rollout) ([]target, error) {
	a, err := r.attach(ro)
	if err != nil {
		return nil, err
	}
	names := ro.ServiceNames()
	var targets []target
	for i, port := range ro.Spec.Service.AllPorts() {
		t := target{name: ro.Name, namespace: ro.Namespace, apex: names.Apex, primary: names.Primary, canary: names.Canary,
			port: port.Port, attachment: a, kind: httpRoutes}
		if i > 0 {
			t.name = ro.Name + "-" + port.Name
		}
		switch port.Protocol {
		case trancheapi.ProtocolGRPC:
			t.kind = grpcRoutes
		case trancheapi.ProtocolTCP:
			t.kind = tcpRoutes
			t.attachment.Hostnames = nil
		default:
			t.timeouts = timeouts(ro)
		}
		targets = append(targets, t)
	}
	return targets, nil
}

// timeouts are the spec's route timeouts; nil leaves the rule's alone.
func timeouts(ro *trancheapi.Rollout) *gatewayv1.HTTPRouteTimeouts {
	p := ro.Spec.Provider.GatewayAPI
	if p == nil || p.Timeouts == nil {
		return nil
	}
	t := &gatewayv1.HTTPRouteTimeouts{}
	if d := p.Timeouts.Request; d != nil {
		t.Request = ptr.To(gatewayDuration(d.Duration))
	}
	if d := p.Timeouts.BackendRequest; d != nil {
		t.BackendRequest = ptr.To(gatewayDuration(d.Duration))
	}
	return t
}

// gatewayDuration writes d in Gateway API's duration format (GEP-2257): whole hours,
// minutes, seconds and milliseconds, such as 1m30s or 1s500ms.
func gatewayDuration(d time.Duration) gatewayv1.Duration {
	d = d.Round(time.Millisecond)
	var b strings.Builder
	for _, u := range []struct {
		unit   time.Duration
		suffix string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}, {time.Millisecond, "ms"}} {
		if n := d / u.unit; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.suffix)
			d -= n * u.unit
		}
	}
	if b.Len() == 0 {
		return "0s"
	}
	return gatewayv1.Duration(b.String())
}

func (t target) key() client.ObjectKey {
	return client.ObjectKey{Namespace: t.namespace, Name: t.name}
}

// String names the route, for messages.
func (t target) String() string {
	return fmt.Sprintf("%s %s/%s", t.kind.name, t.namespace, t.name)
}

// ensureRoute brings the parts of route that Tranche owns in line with the Rollout's spec
// without changing the split: labels, parentRefs, hostnames, and Tranche's rule with its
// backendRefs (added when missing, with weight 0 for a missing canary). It returns the index
// of Tranche's rule. On an empty route it builds the whole route a new Rollout gets.
func ensureRoute(route *gatewayv1.HTTPRoute, ro *trancheapi.Rollout, t target) int {
	if route.Labels == nil {
		route.Labels = map[string]string{}
	}
	maps.Copy(route.Labels, providers.Labels(ro))
	route.Spec.ParentRefs = parentRefs(t.attachment.ParentRefs)
	route.Spec.Hostnames = nil
	for _, h := range t.attachment.Hostnames {
		route.Spec.Hostnames = append(route.Spec.Hostnames, gatewayv1.Hostname(h))
	}
	return ensureRule(route, t)
}

// parentRefs converts the API's parent references with Gateway API's defaults written out,
// so that they compare equal to what the API server returns.
func parentRefs(in []trancheapi.ParentReference) []gatewayv1.ParentReference {
	out := make([]gatewayv1.ParentReference, 0, len(in))
	for _, p := range in {
		group, kind := gatewayv1.GroupName, "Gateway"
		if p.Kind != nil {
			kind = *p.Kind
		}
		if p.Group != nil {
			group = *p.Group
		}
		if kind == "Service" && group == gatewayv1.GroupName {
			// A Service (mesh mode) is in the core group. The API defaults the group of every
			// parent, so a parent written as {kind: Service} arrives with Gateway API's group,
			// which names no real kind.
			group = ""
		}
		ref := gatewayv1.ParentReference{
			Group: ptr.To(gatewayv1.Group(group)),
			Kind:  ptr.To(gatewayv1.Kind(kind)),
			Name:  gatewayv1.ObjectName(p.Name),
			Port:  p.Port,
		}
		if p.Namespace != nil {
			ref.Namespace = ptr.To(gatewayv1.Namespace(*p.Namespace))
		}
		if p.SectionName != nil {
			ref.SectionName = ptr.To(gatewayv1.SectionName(*p.SectionName))
		}
		out = append(out, ref)
	}
	return out
}

// ensureRule finds Tranche's rule, or appends a new one sending everything to the primary,
// and makes its backendRefs and mirror filter use the Services' port and its timeouts the
// spec's, when the spec has them.
func ensureRule(route *gatewayv1.HTTPRoute, t target) int {
	i := tranchesRule(route, t)
	if i < 0 {
		route.Spec.Rules = append(route.Spec.Rules, gatewayv1.HTTPRouteRule{
			Matches:  []gatewayv1.HTTPRouteMatch{defaultMatch()},
			Timeouts: t.timeouts.DeepCopy(),
			BackendRefs: []gatewayv1.HTTPBackendRef{
				weighted(serviceRef(t.primary, t.port), 100),
				weighted(serviceRef(t.canary, t.port), 0),
			},
		})
		return len(route.Spec.Rules) - 1
	}
	rule := &route.Spec.Rules[i]
	if t.timeouts != nil {
		rule.Timeouts = t.timeouts.DeepCopy()
	}
	if refIndex(rule.BackendRefs, t.namespace, t.canary) < 0 {
		rule.BackendRefs = append(rule.BackendRefs, weighted(serviceRef(t.canary, t.port), 0))
	}
	for j := range rule.BackendRefs {
		ref := &rule.BackendRefs[j].BackendObjectReference
		if isService(*ref, t.namespace, t.primary) || isService(*ref, t.namespace, t.canary) {
			ref.Port = ptr.To(t.port)
		}
	}
	if j := mirrorIndex(*rule, t); j >= 0 {
		rule.Filters[j].RequestMirror.BackendRef.Port = ptr.To(t.port)
	}
	return i
}

// tranchesRule is the index of Tranche's rule: the first rule, other than the canary rules,
// with a backendRef to the primary Service; -1 when there is none.
func tranchesRule(route *gatewayv1.HTTPRoute, t target) int {
	for i, rule := range route.Spec.Rules {
		if !isCanaryRule(rule) && refIndex(rule.BackendRefs, t.namespace, t.primary) >= 0 {
			return i
		}
	}
	return -1
}

// defaultMatch is the match Gateway API gives a rule without matches, written out so that a
// new rule compares equal to what the API server returns.
func defaultMatch() gatewayv1.HTTPRouteMatch {
	return gatewayv1.HTTPRouteMatch{Path: &gatewayv1.HTTPPathMatch{
		Type:  ptr.To(gatewayv1.PathMatchPathPrefix),
		Value: ptr.To("/"),
	}}
}

// serviceRef refers to a Service of the route's namespace, with the defaults written out.
func serviceRef(name string, port gatewayv1.PortNumber) gatewayv1.BackendObjectReference {
	return gatewayv1.BackendObjectReference{
		Group: ptr.To(gatewayv1.Group("")),
		Kind:  ptr.To(gatewayv1.Kind("Service")),
		Name:  gatewayv1.ObjectName(name),
		Port:  ptr.To(port),
	}
}

func weighted(ref gatewayv1.BackendObjectReference, weight int32) gatewayv1.HTTPBackendRef {
	return gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{BackendObjectReference: ref, Weight: ptr.To(weight)}}
}

// isService reports whether ref names the Service name of namespace, the route's.
func isService(ref gatewayv1.BackendObjectReference, namespace, name string) bool {
	return (ref.Group == nil || *ref.Group == "") &&
		(ref.Kind == nil || *ref.Kind == "Service") &&
		(ref.Namespace == nil || string(*ref.Namespace) == namespace) &&
		string(ref.Name) == name
}

func refIndex(refs []gatewayv1.HTTPBackendRef, namespace, name string) int {
	return slices.IndexFunc(refs, func(r gatewayv1.HTTPBackendRef) bool {
		return isService(r.BackendObjectReference, namespace, name)
	})
}

// setWeights gives Tranche's backendRefs the weights of a canary weight.
func setWeights(rule *gatewayv1.HTTPRouteRule, t target, canaryWeight int32) {
	primary, canary := providers.Split(canaryWeight)
	for i := range rule.BackendRefs {
		switch ref := &rule.BackendRefs[i]; {
		case isService(ref.BackendObjectReference, t.namespace, t.primary):
			ref.Weight = ptr.To(primary)
		case isService(ref.BackendObjectReference, t.namespace, t.canary):
			ref.Weight = ptr.To(canary)
		}
	}
}

// canaryWeight reads the canary's percent from Tranche's backendRefs. A backendRef without
// a weight has Gateway API's default weight, 1.
func canaryWeight(rule gatewayv1.HTTPRouteRule, t target) (int32, error) {
	var primary, canary int32
	for _, ref := range rule.BackendRefs {
		weight := ptr.Deref(ref.Weight, 1)
		switch {
		case isService(ref.BackendObjectReference, t.namespace, t.primary):
			primary += weight
		case isService(ref.BackendObjectReference, t.namespace, t.canary):
			canary += weight
		}
	}
	return providers.CanaryPercent(primary, canary)
}

// mirrorIndex is the index of Tranche's mirror filter in the rule: a RequestMirror filter
// sending copies to the canary Service; -1 when there is none.
func mirrorIndex(rule gatewayv1.HTTPRouteRule, t target) int {
	return slices.IndexFunc(rule.Filters, func(f gatewayv1.HTTPRouteFilter) bool {
		return f.Type == gatewayv1.HTTPRouteFilterRequestMirror && f.RequestMirror != nil &&
			isService(f.RequestMirror.BackendRef, t.namespace, t.canary)
	})
}

// setMirror adds, changes or (for 0) removes Tranche's mirror filter.
func setMirror(rule *gatewayv1.HTTPRouteRule, t target, percent int32) {
	i := mirrorIndex(*rule, t)
	if percent == 0 {
		if i >= 0 {
			rule.Filters = slices.Delete(rule.Filters, i, i+1)
		}
		return
	}
	filter := gatewayv1.HTTPRouteFilter{
		Type: gatewayv1.HTTPRouteFilterRequestMirror,
		RequestMirror: &gatewayv1.HTTPRequestMirrorFilter{
			BackendRef: serviceRef(t.canary, t.port),
			Percent:    ptr.To(percent),
		},
	}
	if i >= 0 {
		rule.Filters[i] = filter
		return
	}
	rule.Filters = append(rule.Filters, filter)
}

// mirrorPercent reads Tranche's mirror filter. Gateway API mirrors every request when the
// filter has neither percent nor fraction; a fraction is rounded to a percent.
func mirrorPercent(rule gatewayv1.HTTPRouteRule, t target) int32 {
	i := mirrorIndex(rule, t)
	if i < 0 {
		return 0
	}
	m := rule.Filters[i].RequestMirror
	switch {
	case m.Percent != nil:
		return *m.Percent
	case m.Fraction != nil:
		denominator := int64(ptr.Deref(m.Fraction.Denominator, 100))
		if denominator <= 0 {
			return 0
		}
		return int32((int64(m.Fraction.Numerator)*100 + denominator/2) / denominator)
	}
	return 100
}
