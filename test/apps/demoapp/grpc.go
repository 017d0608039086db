package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// The gRPC flavour serves grpc.testing.TestService, the service grpc-go's own xDS interop
// tests call: UnaryCall answers with the version as server_id (and the host's name as
// hostname), after latency, failing errorRate of the calls with INTERNAL (as the HTTP flavour
// answers 500). EmptyCall answers at once, with the version in its header metadata; the
// other methods are unimplemented.
//
// gRPC is served in plaintext (as proxyless clients in a mesh without mutual TLS speak it)
// by grpc-go's own server: its failures go out as trailers only, which a client's retry
// policy needs (a failure after headers is never retried). On the next port, over HTTP,
// /metrics counts the calls by method, code and version: the server's own word on its
// traffic, which Prometheus scrapes (proxyless clients report nothing to the mesh).
//
// With tlsDir, the server takes only mutual TLS: a client must present a certificate of the
// mesh's root, as a sidecar in strict mode would have it.
func serveGRPC(ctx context.Context, listen, tlsDir, version string, errorRate float64, latency, drainDelay time.Duration) error {
	metricsAddr, err := nextPort(listen)
	if err != nil {
		return err
	}
	options := []grpc.ServerOption{}
	if tlsDir != "" {
		creds, err := mutualTLS(tlsDir)
		if err != nil {
			return err
		}
		options = append(options, grpc.Creds(creds))
	}
	handled := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "grpc_server_handled_total",
		Help: "Calls answered, by gRPC service, method and status code, and the version that answered.",
	}, []string{"grpc_service", "grpc_method", "grpc_code", "version"})
	registry := prometheus.NewRegistry()
	registry.MustRegister(handled)
	calls := grpc.NewServer(append(options, grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		resp, err := next(ctx, req)
		service, method := splitMethod(info.FullMethod)
		handled.WithLabelValues(service, method, status.Code(err).String(), version).Inc()
		return resp, err
	}))...)
	hostname, _ := os.Hostname()
	testgrpc.RegisterTestServiceServer(calls, &testService{version: version, hostname: hostname, errorRate: errorRate, latency: latency})

	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(version + "\n")) })
	metrics := &http.Server{Addr: metricsAddr, Handler: mux}

	listener, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	metricsListener, err := net.Listen("tcp", metricsAddr)
	if err != nil {
		listener.Close()
		return err
	}
	go func() { _ = metrics.Serve(metricsListener) }()
	go func() {
		<-ctx.Done()
		// As the HTTP flavour: answer for drainDelay after SIGTERM (clients drop the pod a
		// moment after the endpoints do), then stop taking calls and finish those under way.
		time.Sleep(drainDelay)
		stopped := make(chan struct{})
		go func() { calls.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(5 * time.Second):
			calls.Stop()
		}
		_ = metrics.Close()
	}()
	if err := calls.Serve(listener); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}

// mutualTLS is the server's side of mutual TLS with the identity in dir.
func mutualTLS(dir string) (credentials.TransportCredentials, error) {
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "cert-chain.pem"), filepath.Join(dir, "key.pem"))
	if err != nil {
		return nil, err
	}
	root, err := os.ReadFile(filepath.Join(dir, "root-cert.pem"))
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(root) {
		return nil, fmt.Errorf("no certificate in %s", filepath.Join(dir, "root-cert.pem"))
	}
	return credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    roots,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}), nil
}

// nextPort is the address on the same host one port above addr's.
func nextPort(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(host, strconv.Itoa(n+1)), nil
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

// EmptyCall answers at once, with the version in the answer's header metadata (its answer
// has no field for it), so that clients calling it count the versions too.
func (s *testService) EmptyCall(ctx context.Context, _ *testgrpc.Empty) (*testgrpc.Empty, error) {
	_ = grpc.SetHeader(ctx, metadata.Pairs(versionHeader, s.version))
	return &testgrpc.Empty{}, nil
}

// versionHeader is the header metadata EmptyCall answers with the version in.
const versionHeader = "x-version"
