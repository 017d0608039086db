package stack

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"

	"github.com/tranche-dev/tranche/test/harness"
)

// GRPCTarget is the xDS target of a Service of the stack's namespace at AppPort, as a
// proxyless client in the mesh dials it.
func (s *Stack) GRPCTarget(service string) string {
	return fmt.Sprintf("xds:///%s.%s.svc.cluster.local:%d", service, s.Namespace, AppPort)
}

// GRPCClient is who the gRPC load's clients are.
type GRPCClient struct {
	// Metadata goes with every call (the headers an A/B step may match).
	Metadata metadata.MD
	// Identity, when set, is the clients' mesh certificate, for mutual TLS where istiod's
	// clusters ask for it.
	Identity *harness.MeshIdentity
}

// StartGRPCLoad calls the gRPC demo app's UnaryCall at target perSecond times a second until
// ctx is done: a proxyless client of the stack's istiod, which routes each call as the
// VirtualService of the target's host says. The version that answered is the answer's
// server_id.
func (s *Stack) StartGRPCLoad(ctx context.Context, target string, perSecond int, as GRPCClient) (*Load, error) {
	if s.Istiod == nil {
		return nil, fmt.Errorf("stack: no istiod: start the stack with Options.Istio")
	}
	opts, err := harness.ProxylessClient(s.Istiod.XDSAddress(), s.Namespace, as.Identity)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(target, opts...)
	if err != nil {
		return nil, err
	}
	context.AfterFunc(ctx, func() { _ = conn.Close() })
	client := testgrpc.NewTestServiceClient(conn)
	return startLoad(ctx, perSecond, func(ctx context.Context) (string, error) {
		ctx, cancel := context.WithTimeout(metadata.NewOutgoingContext(ctx, as.Metadata), 2*time.Second)
		defer cancel()
		resp, err := client.UnaryCall(ctx, &testgrpc.SimpleRequest{FillServerId: true})
		if err != nil {
			return "", err
		}
		return resp.GetServerId(), nil
	}), nil
}

// GatewayCalls are the calls of a gRPC load through a gateway.
type GatewayCalls struct {
	// Metadata goes with every call (the headers an A/B step may match).
	Metadata metadata.MD
	// Empty calls EmptyCall, whose answer says its version in its header metadata, rather
	// than UnaryCall, whose answer's server_id does.
	Empty bool
}

// StartGRPCLoadThroughGateway calls the gRPC demo app through a gateway's plaintext HTTP
// entrypoint at baseURL (http://host:port: HTTP/2 with prior knowledge, as gRPC speaks it
// without TLS), perSecond times a second until ctx is done, with host as each call's
// authority, the name a GRPCRoute's hostnames match; the load counts the versions that
// answered.
func StartGRPCLoadThroughGateway(ctx context.Context, baseURL, host string, perSecond int, calls GatewayCalls) (*Load, error) {
	call, err := gatewayCall(ctx, baseURL, host, calls)
	if err != nil {
		return nil, err
	}
	return startLoad(ctx, perSecond, call), nil
}

// WaitGRPCServed waits up to limit until the gateway at baseURL answers a call for host:
// the route is in place and the app serves.
func WaitGRPCServed(ctx context.Context, baseURL, host string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	call, err := gatewayCall(ctx, baseURL, host, GatewayCalls{})
	if err != nil {
		return err
	}
	for {
		_, err := call(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stack: no answer to a gRPC call for %s at %s within %s: %w", host, baseURL, limit, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// gatewayCall is one call through the gateway at baseURL, on a connection that lasts as long
// as ctx.
func gatewayCall(ctx context.Context, baseURL, host string, calls GatewayCalls) (func(context.Context) (string, error), error) {
	address, ok := strings.CutPrefix(baseURL, "http://")
	if !ok {
		return nil, fmt.Errorf("stack: %s is not a plaintext HTTP entrypoint", baseURL)
	}
	conn, err := grpc.NewClient("passthrough:///"+address,
		grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithAuthority(host))
	if err != nil {
		return nil, err
	}
	context.AfterFunc(ctx, func() { _ = conn.Close() })
	client := testgrpc.NewTestServiceClient(conn)
	return func(ctx context.Context) (string, error) {
		ctx, cancel := context.WithTimeout(metadata.NewOutgoingContext(ctx, calls.Metadata), 2*time.Second)
		defer cancel()
		if calls.Empty {
			var header metadata.MD
			if _, err := client.EmptyCall(ctx, &testgrpc.Empty{}, grpc.Header(&header)); err != nil {
				return "", err
			}
			if v := header.Get("x-version"); len(v) == 1 { // the demo app's versionHeader
				return v[0], nil
			}
			return "", fmt.Errorf("stack: an EmptyCall answered without its version")
		}
		resp, err := client.UnaryCall(ctx, &testgrpc.SimpleRequest{FillServerId: true})
		if err != nil {
			return "", err
		}
		return resp.GetServerId(), nil
	}, nil
}
