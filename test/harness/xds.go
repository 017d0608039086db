package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	xdscreds "google.golang.org/grpc/credentials/xds"
	"google.golang.org/grpc/xds"
)

// ProxylessClient returns the dial options of a proxyless gRPC client of istiod at
// xdsAddress, as a pod of namespace: grpc-go's xDS resolver, bootstrapped as Istio's agent
// bootstraps one (plaintext to istiod, the grpc generator), so that a target such as
// xds:///podinfo.shop.svc.cluster.local:80 is resolved, routed and balanced by what istiod
// sends: the VirtualService's routes and weights, the DestinationRules' policies and the
// endpoints.
//
// Endpoints are pod IPs (kwok's 10.244.x.y: the API server refuses loopback addresses in
// EndpointSlices), which the tests must never dial. The client's dialer plays the node's
// network instead: it sends a connection for a pod IP to the pod's loopback twin (PodTwin),
// where PodApps runs the pod's process, and refuses any address that is neither.
//
// With an identity, the client also does what a DestinationRule's ISTIO_MUTUAL asks of it
// (mutual TLS to the pods, checking their SPIFFE names): its certificates are the identity's
// files, as Istio's agent would have written them. Without one, a route that asks for TLS
// fails.
func ProxylessClient(xdsAddress, namespace string, identity *MeshIdentity) ([]grpc.DialOption, error) {
	config := map[string]any{
		"xds_servers": []any{map[string]any{
			"server_uri":      xdsAddress,
			"channel_creds":   []any{map[string]any{"type": "insecure"}},
			"server_features": []string{"xds_v3"},
		}},
		"node": map[string]any{
			// Istio reads the proxy's kind, IP, name and DNS domain from the ID.
			"id": fmt.Sprintf("sidecar~127.0.0.1~tranche-test-client.%s~%s.svc.cluster.local", namespace, namespace),
			"metadata": map[string]any{
				"GENERATOR":  "grpc", // istiod's generator for proxyless gRPC
				"NAMESPACE":  namespace,
				"CLUSTER_ID": "Kubernetes", // istiod's own cluster's name by default
			},
		},
	}
	if identity != nil {
		// The provider istiod's clusters name ("default") for both the certificate and the
		// roots, read from files as Istio's own gRPC bootstrap does.
		config["certificate_providers"] = map[string]any{"default": map[string]any{
			"plugin_name": "file_watcher",
			"config": map[string]any{
				"certificate_file":    filepath.Join(identity.Dir, "cert-chain.pem"),
				"private_key_file":    filepath.Join(identity.Dir, "key.pem"),
				"ca_certificate_file": filepath.Join(identity.Dir, "root-cert.pem"),
				"refresh_interval":    "900s",
			},
		}}
	}
	bootstrap, err := json.Marshal(config)
	if err != nil {
		return nil, err
	}
	resolver, err := xds.NewXDSResolverWithConfigForTesting(bootstrap)
	if err != nil {
		return nil, fmt.Errorf("harness: the xDS resolver: %w", err)
	}
	creds, err := xdscreds.NewClientCredentials(xdscreds.ClientOptions{FallbackCreds: insecure.NewCredentials()})
	if err != nil {
		return nil, err
	}
	return []grpc.DialOption{
		grpc.WithResolvers(resolver),
		// Security as istiod's clusters say: TLS where a DestinationRule asks for it,
		// plaintext elsewhere.
		grpc.WithTransportCredentials(creds),
		grpc.WithContextDialer(dialPod),
	}, nil
}

// dialPod connects to a pod IP's loopback twin, or to a loopback address as it is.
func dialPod(ctx context.Context, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	ip := net.ParseIP(host)
	switch {
	case ip == nil:
		return nil, fmt.Errorf("harness: %s is not an IP address", address)
	case PodNetwork.Contains(ip):
		if host, err = PodTwin(host); err != nil {
			return nil, err
		}
	case !ip.IsLoopback():
		return nil, fmt.Errorf("harness: %s is neither a pod's address nor a loopback one: not dialled", address)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
}
