package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/tranche-dev/tranche/test/harness"
	"github.com/tranche-dev/tranche/test/stack"
)

// setup is what every contender runs on: the stack, the settings and where the peers are.
type setup struct {
	stack    *stack.Stack
	settings settings
	peers    string // the folder hack/build-peers.sh filled
	dir      string // logs
}

// app is the name of every contender's app, in its own namespace.
const app = "podinfo"

// host is the hostname the load asks for at the gateway to reach a contender's app.
func host(c contender) string { return c.namespace() + ".bench.test" }

// successRate is the one query every contender's analysis asks, written out in full for the
// namespace: the percent of the canary's requests that Traefik answered without a 5xx over
// the last interval. Tranche and Flagger route through an HTTPRoute named after the app, whose
// canary backend Traefik names after the canary Service; series is that backend's selector.
func successRate(series string, window time.Duration) string {
	w := fmt.Sprintf("[%ds]", int(window.Seconds()))
	return `100 * ((sum(rate(traefik_service_requests_total{` + series + `, code!~"5.."}` + w + `)) or vector(0))` +
		` / sum(rate(traefik_service_requests_total{` + series + `}` + w + `)))`
}

// httpRouteCanary selects Traefik's series of the canary backend of the HTTPRoute named
// after the app in ns (Traefik names it httproute-<ns>-<route>-gw-...-svc-<ns>-<service>-<port>).
func httpRouteCanary(ns string) string {
	return `service=~"httproute-` + ns + `-` + app + `-gw-.+-svc-` + ns + `-` + app + `-canary-[0-9]+@kubernetesgateway"`
}

// openGateway lets routes of every namespace attach to the stack's Gateway: each contender's
// app lives in a namespace of its own.
func openGateway(ctx context.Context, s *stack.Stack) error {
	c := s.ControlPlane.Client
	gw := &gatewayv1.Gateway{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: stack.Gateway}, gw); err != nil {
		return err
	}
	before := gw.DeepCopy()
	all := gatewayv1.NamespacesFromAll
	for i := range gw.Spec.Listeners {
		gw.Spec.Listeners[i].AllowedRoutes = &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{From: &all}}
	}
	return c.Patch(ctx, gw, client.MergeFrom(before))
}

// object is an object of a kind Tranche's scheme does not know (the peers'), from YAML-like
// nested maps.
func object(apiVersion, kind, ns, name string, spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": apiVersion, "kind": kind,
		"metadata": map[string]any{"namespace": ns, "name": name},
		"spec":     spec,
	}}
}

// nestedString reads a string field of u at a dotted path, "" when it has none.
func nestedString(u *unstructured.Unstructured, path string) string {
	v, _, _ := unstructured.NestedString(u.Object, strings.Split(path, ".")...)
	return v
}

func seconds(d time.Duration) string { return fmt.Sprintf("%ds", int(d.Seconds())) }

// startPeer runs a peer's controller, built by hack/build-peers.sh at binary under s.peers,
// until ctx ends. args makes its flags from n free ports on 127.0.0.1; the first must serve
// /healthz, which says when it is ready. It returns the process ID.
func startPeer(ctx context.Context, s *setup, name, binary string, n int, args func(ports []string) []string) (int, error) {
	binary = filepath.Join(s.peers, binary)
	if _, err := os.Stat(binary); err != nil {
		return 0, fmt.Errorf("%w: run `make bench-peers`, which builds it (hack/build-peers.sh)", err)
	}
	ports := make([]string, n)
	for i := range ports {
		addr, err := harness.FreeAddress()
		if err != nil {
			return 0, err
		}
		_, ports[i], _ = strings.Cut(addr, ":")
	}
	p := &harness.Process{
		Name: name, Path: binary, Args: args(ports), Env: harness.EnvironFor(s.stack.Kubeconfig),
		LogFile: filepath.Join(s.dir, name+".log"),
		Ready:   func(ctx context.Context) error { return harness.GetOK(ctx, "http://127.0.0.1:"+ports[0]+"/healthz") },
	}
	if err := p.Start(ctx); err != nil {
		return 0, err
	}
	go func() { <-ctx.Done(); _ = p.Stop() }()
	return p.Pid(), nil
}
