package main

import (
	"context"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
)

// The gRPC flavour serves grpc.testing.TestService, the service grpc-go's own xDS interop
// tests call: UnaryCall answers with the version as server_id (and the pod's name as
// hostname), after latency, failing errorRate of the calls with INTERNAL (as the HTTP flavour
// answers 500). The other methods are unimplemented.
//
// One port carries both gRPC (HTTP/2 without TLS, as proxyless clients in a mesh without
// mutual TLS speak it) and, over HTTP/1.1, /metrics and /healthz: the calls counted by
// method, code and version, the server's own word on its traffic that Prometheus scrapes
// (proxyless clients report nothing to the mesh's telemetry).
func grpcServer(listen, version string, errorRate float64, latency time.Duration) *http.Server {
	handled := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "grpc_server_handled_total",
		Help: "Calls answered, by gRPC service, method and status code, and the version that answered.",
	}, []string{"grpc_service", "grpc_method", "grpc_code", "version"})
	registry := prometheus.NewRegistry()
	registry.MustRegister(handled)

	calls := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		resp, err := next(ctx, req)
		service, method := splitMethod(info.FullMethod)
		handled.WithLabelValues(service, method, status.Code(err).String(), version).Inc()
		return resp, err
	}))
	hostname, _ := os.Hostname()
	if pod := os.Getenv("POD_NAME"); pod != "" {
		hostname = pod
	}
	testgrpc.RegisterTestServiceServer(calls, &testService{version: version, hostname: hostname, errorRate: errorRate, latency: latency})

	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(version + "\n")) })
	server := &http.Server{Addr: listen, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
			calls.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})}
	server.Protocols = new(http.Protocols)
	server.Protocols.SetHTTP1(true)
	server.Protocols.SetUnencryptedHTTP2(true)
	return server
}

// splitMethod cuts "/grpc.testing.TestService/UnaryCall" into service and method.
func splitMethod(full string) (string, string) {
	service, method, _ := strings.Cut(strings.TrimPrefix(full, "/"), "/")
	return service, method
}

type testService struct {
	testgrpc.UnimplementedTestServiceServer
	version, hostname string
	errorRate         float64
	latency           time.Duration
}

func (s *testService) UnaryCall(ctx context.Context, _ *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	select {
	case <-time.After(s.latency):
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	if rand.Float64() < s.errorRate {
		return nil, status.Error(codes.Internal, s.version+" failed")
	}
	return &testgrpc.SimpleResponse{ServerId: s.version, Hostname: s.hostname}, nil
}

func (s *testService) EmptyCall(context.Context, *testgrpc.Empty) (*testgrpc.Empty, error) {
	return &testgrpc.Empty{}, nil
}
