// Command demoapp is the application the demo and the end-to-end tests release: an HTTP
// server that answers every request with its version, failing a given share of them and
// taking a given time, so that a release can be made good or bad by its flags alone. With
// --grpc it is a gRPC server instead, with the same knobs (see grpc.go); with --tcp-port it
// also answers bare TCP connections with its version on a second port (see tcp.go).
//
// The harness runs one process per Service that selects a Deployment, with the version taken
// from the image tag of the Deployment's pod template and the container's args as flags:
//
//	image: tranche.dev/demoapp:v3
//	args: ["--error-rate=0.3"]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "Address to serve on.")
	version := flag.String("version", "v1", "Version to answer with.")
	errorRate := flag.Float64("error-rate", 0, "Share of requests answered 500, from 0 to 1.")
	latency := flag.Duration("latency", 0, "Time taken before answering each request.")
	drainDelay := flag.Duration("drain-delay", 500*time.Millisecond, "Time it goes on answering after SIGTERM before it stops listening.")
	grpcFlavour := flag.Bool("grpc", false, "Serve gRPC's TestService instead of HTTP, and /metrics for Prometheus on the next port.")
	tcpPort := flag.Int("tcp-port", 0, "Also answer every TCP connection on this port, on --listen's host, with the version, a line, and close it.")
	tlsDir := flag.String("tls-dir", "", "With --grpc: take only mutual TLS calls, with the mesh identity in this folder (cert-chain.pem, key.pem, root-cert.pem), as a mesh's sidecar in strict mode does.")
	var bursts bursts
	flag.DurationVar(&bursts.every, "burst-every", 0, "Every this long by the wall clock, for --burst-length, answer --burst-error-rate of the requests 500 instead of --error-rate: every process bursts at the same time, as when a dependency they share fails.")
	flag.DurationVar(&bursts.length, "burst-length", 0, "How long each burst lasts.")
	flag.Float64Var(&bursts.errorRate, "burst-error-rate", 0, "Share of requests answered 500 during a burst, from 0 to 1.")
	flag.Parse()
	if *errorRate < 0 || *errorRate > 1 || bursts.errorRate < 0 || bursts.errorRate > 1 {
		fmt.Fprintln(os.Stderr, "demoapp: --error-rate and --burst-error-rate must be between 0 and 1")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *tcpPort > 0 {
		address, err := tcpAddress(*listen, *tcpPort)
		if err != nil {
			fmt.Fprintln(os.Stderr, "demoapp:", err)
			os.Exit(2)
		}
		go func() {
			if err := serveTCP(ctx, address, *version, *drainDelay); err != nil {
				fmt.Fprintln(os.Stderr, "demoapp:", err)
				os.Exit(1)
			}
		}()
	}
	if *grpcFlavour {
		if err := serveGRPC(ctx, *listen, *tlsDir, *version, *errorRate, *latency, *drainDelay); err != nil {
			fmt.Fprintln(os.Stderr, "demoapp:", err)
			os.Exit(1)
		}
		return
	}
	server := &http.Server{Addr: *listen, Handler: handler(*version, bursts.rate(*errorRate), *latency)}
	drained := make(chan struct{})
	go func() {
		<-ctx.Done()
		// As a pod with a preStop pause: the proxies in front of a Service drop a terminating
		// pod a moment after it is told to stop, so for drain-delay it still answers (each
		// answer closes its connection, so that the next request goes to a pod still there),
		// and only then stops listening.
		server.SetKeepAlivesEnabled(false)
		time.Sleep(*drainDelay)
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = server.Shutdown(shutdown)
		close(drained)
	}()
	if err := server.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "demoapp:", err)
		os.Exit(1)
	}
	<-drained // ListenAndServe returns at once; the requests in progress are answered first
}

// bursts are the times the app fails more often: for length in every period of the wall clock.
type bursts struct {
	every, length time.Duration
	errorRate     float64
}

// rate is the share of requests to fail now: the burst's during a burst, else usual.
func (b bursts) rate(usual float64) func(now time.Time) float64 {
	return func(now time.Time) float64 {
		if b.every > 0 && time.Duration(now.UnixNano()%int64(b.every)) < b.length {
			return b.errorRate
		}
		return usual
	}
}

// handler answers /healthz with 200 at once, and every other path with the version after
// latency, as a 500 for the share of the requests errorRate gives at the time.
func handler(version string, errorRate func(time.Time) float64, latency time.Duration) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, version)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
		if rand.Float64() < errorRate(time.Now()) {
			http.Error(w, version+" failed", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, version)
	})
	return mux
}
