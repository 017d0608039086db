package harness

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// ErrNoTraefik is returned (wrapped) when no traefik binary has been built, so that tests can
// skip on machines without one.
var ErrNoTraefik = errors.New("harness: no traefik binary: run `make traefik` (it builds one into bin/traefik/), or set TRAEFIK_BINARY")

// TraefikOptions change how a test Traefik is started.
type TraefikOptions struct {
	// Kubeconfig is the file Traefik's kubernetesGateway provider reads the API server from,
	// such as ControlPlane.Kubeconfig writes. Required.
	Kubeconfig string
	// Args are appended to the command line, to add or override flags.
	Args []string
	// LogDir, when set, keeps Traefik's log (traefik.log) there after it stops.
	LogDir string
	// TCP opens an entrypoint for TCP (TCPPort) and turns on the experimental channel of the
	// kubernetesGateway provider, which serves TCPRoutes on a Gateway's TCP listeners: the
	// TCPRoute CRD of the experimental channel (GatewayAPICRDs installs it) must be installed,
	// as Traefik waits for its informer of v1alpha2 TCPRoutes.
	TCP bool
}

// Traefik is a real Traefik, the Gateway API data plane, running as a plain process on
// 127.0.0.1. It serves the HTTPRoutes of Gateways whose listener port is WebPort, and answers
// /ping, /api and /metrics on a second address. Kill, Restart and Stop are for one goroutine
// at a time; the URL methods may be called from any.
type Traefik struct {
	dir  string
	opts TraefikOptions
	web  string // the "web" entrypoint: the traffic
	api  string // the "traefik" entrypoint: /ping, /api, /metrics
	tcp  string // the "pipe" entrypoint, for TCPRoutes; "" without TraefikOptions.TCP
	proc *Process
}

// FindTraefik returns the traefik binary the tests use: TRAEFIK_BINARY, else the newest one
// under bin/traefik/ of the module (what `make traefik` builds). The error wraps ErrNoTraefik
// when there is none.
func FindTraefik() (string, error) {
	return findBuilt("TRAEFIK_BINARY", "", "traefik/*/traefik", ErrNoTraefik)
}

// findBuilt returns a program `make` builds under bin/ for the tests: the path the variable
// env names (with inDir joined to it, for a variable that names a folder), else the newest
// match of pattern under the module's bin/, else none.
func findBuilt(env, inDir, pattern string, none error) (string, error) {
	if path := os.Getenv(env); path != "" {
		path = filepath.Join(path, inDir)
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("harness: %s: %w", env, err)
		}
		return path, nil
	}
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	found, _ := filepath.Glob(filepath.Join(root, "bin", pattern))
	if len(found) == 0 {
		return "", none
	}
	sort.Strings(found)
	return found[len(found)-1], nil
}

// StartTraefik starts Traefik against the API server of opts.Kubeconfig and waits until it
// answers /ping. The Gateway API CRDs must be installed before: Traefik waits for its
// informers to sync. Routes become servable a moment later, once Traefik has read them.
func StartTraefik(opts TraefikOptions) (*Traefik, error) {
	if opts.Kubeconfig == "" {
		return nil, errors.New("harness: TraefikOptions.Kubeconfig is required")
	}
	binary, err := FindTraefik()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "tranche-traefik-")
	if err != nil {
		return nil, err
	}
	t := &Traefik{dir: dir, opts: opts}
	logDir := cmp.Or(opts.LogDir, dir)
	t.proc = &Process{
		Name: "traefik", Path: binary, LogFile: filepath.Join(logDir, "traefik.log"),
		Ready: func(ctx context.Context) error { return GetOK(ctx, t.APIURL()+"/ping") },
	}
	// Another process may take a free port before Traefik binds it: try a few.
	for attempt := 0; attempt < 3; attempt++ {
		if t.web, err = FreeAddress(); err != nil {
			break
		}
		if t.api, err = FreeAddress(); err != nil {
			break
		}
		if opts.TCP {
			if t.tcp, err = FreeAddress(); err != nil {
				break
			}
		}
		if err = t.Restart(); err == nil {
			return t, nil
		}
	}
	_ = t.Stop()
	return nil, err
}

// WebURL is the base URL of the traffic entrypoint, such as http://127.0.0.1:41234.
func (t *Traefik) WebURL() string { return "http://" + t.web }

// WebPort is the port of the traffic entrypoint: a Gateway listener must use this port for
// Traefik to serve it ("no matching entryPoint for port" otherwise).
func (t *Traefik) WebPort() int32 {
	_, port, _ := net.SplitHostPort(t.web)
	n, _ := strconv.Atoi(port)
	return int32(n)
}

// TCPAddress is the host:port of the TCP entrypoint; "" unless started with
// TraefikOptions.TCP.
func (t *Traefik) TCPAddress() string { return t.tcp }

// TCPPort is the port of the TCP entrypoint: a Gateway's TCP listener must use it.
func (t *Traefik) TCPPort() int32 {
	_, port, _ := net.SplitHostPort(t.tcp)
	n, _ := strconv.Atoi(port)
	return int32(n)
}

// APIURL is the base URL of Traefik's own entrypoint, for /api/http/services and the like.
func (t *Traefik) APIURL() string { return "http://" + t.api }

// MetricsURL serves Traefik's Prometheus metrics, with a service label for each backend.
func (t *Traefik) MetricsURL() string { return t.APIURL() + "/metrics" }

// args are the flags of the notes in ../shared/notes/dataplane.md: no dashboard (the module
// zip has no web UI files, and with it every reload logs an error), no throttling of config
// changes (the default 2 s holds back a second weight change), and Services reached at their
// ClusterIP:port (nativeLB), since the API server refuses loopback EndpointSlices.
func (t *Traefik) args() []string {
	var tcp []string
	if t.tcp != "" {
		tcp = []string{"--entryPoints.pipe.address=" + t.tcp, "--providers.kubernetesgateway.experimentalChannel=true"}
	}
	return append(append([]string{
		"--log.level=INFO", "--log.noColor=true",
		"--entryPoints.web.address=" + t.web,
		"--entryPoints.traefik.address=" + t.api,
		"--api.insecure=true", "--api.dashboard=false", "--ping=true",
		"--metrics.prometheus=true", "--metrics.prometheus.addServicesLabels=true",
		"--metrics.prometheus.addRoutersLabels=true",
		"--providers.kubernetesgateway=true", "--providers.kubernetesgateway.nativeLBByDefault=true",
		"--providers.providersThrottleDuration=0s",
		"--global.checkNewVersion=false", "--global.sendAnonymousUsage=false",
	}, tcp...), t.opts.Args...)
}

// EnvironFor is this process's environment for a child that must reach the API server of
// kubeconfig: KUBECONFIG set to it, and without what would make the child use in-cluster
// credentials instead (as when the tests run in a pod).
func EnvironFor(kubeconfig string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KUBERNETES_SERVICE_") && !strings.HasPrefix(kv, "KUBECONFIG=") {
			env = append(env, kv)
		}
	}
	return append(env, "KUBECONFIG="+kubeconfig)
}

// Restart starts Traefik again after Kill, on the same addresses, and waits until it answers
// /ping. It reads its whole configuration from the API server again, as after a crash.
func (t *Traefik) Restart() error {
	t.proc.Args, t.proc.Env = t.args(), EnvironFor(t.opts.Kubeconfig)
	return t.proc.Start(context.Background())
}

// LogTail is the end of Traefik's log, for the message of a failed test.
func (t *Traefik) LogTail() string {
	return t.proc.LogTail()
}

// Kill stops Traefik at once, as a crash would, keeping its addresses for Restart.
func (t *Traefik) Kill() error {
	return t.proc.Kill()
}

// Stop kills Traefik and removes its log.
func (t *Traefik) Stop() error {
	return errors.Join(t.Kill(), os.RemoveAll(t.dir))
}
