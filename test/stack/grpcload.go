package stack

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
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
