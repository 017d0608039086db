package harness

import (
	"cmp"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
)

// ErrNoIstio is returned (wrapped) when istiod has not been built.
var ErrNoIstio = errors.New("harness: no istiod: run `make istio` (it builds pilot-discovery into bin/istio/), or set ISTIO_DIR")

// IstioNamespace is where istiod looks for its own configuration (POD_NAMESPACE).
const IstioNamespace = "istio-system"

// FindIstio returns the folder `make istio` builds istiod into: ISTIO_DIR, else the newest
// under bin/istio/ of the module. It holds pilot-discovery, istio-validate and crds/.
func FindIstio() (string, error) {
	discovery, err := findBuilt("ISTIO_DIR", "pilot-discovery", "istio/*/pilot-discovery", ErrNoIstio)
	if err != nil {
		return "", err
	}
	return filepath.Dir(discovery), nil
}

// IstiodOptions change how istiod is started.
type IstiodOptions struct {
	// Kubeconfig is the API server istiod reads, such as ControlPlane.Kubeconfig writes; its
	// CRDs (IstioCRDs) must be installed and the namespace IstioNamespace created. Required.
	Kubeconfig string
	// LogDir, when set, keeps istiod's log (istiod.log) there after it stops.
	LogDir string
	// Env are more variables for istiod (its features are switched by environment).
	Env []string
}

// Istiod is Istio's control plane (pilot-discovery) as a plain process on 127.0.0.1. It
// reads Services, EndpointSlices, Pods and Istio's configuration from the API server and
// serves xDS, in plaintext, on XDSAddress: to proxyless gRPC clients here, which take the
// routes it builds for Envoy sidecars.
type Istiod struct {
	dir  string
	grpc string // xDS, plaintext
	http string // /ready, /debug
	proc *Process
}

// StartIstiod starts istiod and waits until it says it is ready (its caches synced).
func StartIstiod(opts IstiodOptions) (*Istiod, error) {
	if opts.Kubeconfig == "" {
		return nil, errors.New("harness: IstiodOptions.Kubeconfig is required")
	}
	istio, err := FindIstio()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "tranche-istiod-")
	if err != nil {
		return nil, err
	}
	d := &Istiod{dir: dir}
	d.proc = &Process{
		Name: "istiod", Path: filepath.Join(istio, "pilot-discovery"), LogFile: filepath.Join(cmp.Or(opts.LogDir, dir), "istiod.log"),
		Ready: func(ctx context.Context) error { return GetOK(ctx, "http://"+d.http+"/ready") },
	}
	for attempt := 0; attempt < 3; attempt++ {
		var addrs [4]string
		for i := range addrs {
			if addrs[i], err = FreeAddress(); err != nil {
				break
			}
		}
		if err != nil {
			break
		}
		d.grpc, d.http = addrs[0], addrs[1]
		d.proc.Args = []string{"discovery", "--kubeconfig=" + opts.Kubeconfig,
			"--grpcAddr=" + d.grpc, "--httpAddr=" + d.http, "--monitoringAddr=" + addrs[2], "--ctrlz_address=127.0.0.1", "--ctrlz_port=" + portOf(addrs[3]),
			// No TLS anywhere: no secure xDS port, no webhook server, no CA. xDS is served in
			// plaintext, which istiod allows without authenticating the client.
			"--secureGRPCAddr=", "--httpsAddr=",
			"--log_output_level=default:info"}
		d.proc.Env = append(EnvironFor(opts.Kubeconfig),
			"POD_NAMESPACE="+IstioNamespace, "POD_NAME=istiod-0", "REVISION=default",
			"PILOT_CERT_PROVIDER=none", "ENABLE_CA_SERVER=false",
			// One istiod, no leader to wait for.
			"ENABLE_LEADER_ELECTION=false")
		d.proc.Env = append(d.proc.Env, opts.Env...)
		if err = d.proc.Start(context.Background()); err == nil {
			return d, nil
		}
	}
	_ = d.Stop()
	return nil, err
}

// portOf is the port of a host:port address.
func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

// XDSAddress is where istiod serves xDS in plaintext, host:port on 127.0.0.1.
func (d *Istiod) XDSAddress() string { return d.grpc }

// DebugURL is the base of istiod's debug endpoints, such as /debug/configz.
func (d *Istiod) DebugURL() string { return "http://" + d.http + "/debug" }

// LogTail is the end of istiod's log, for the message of a failed test.
func (d *Istiod) LogTail() string { return d.proc.LogTail() }

// Stop stops istiod and removes its folder.
func (d *Istiod) Stop() error {
	return errors.Join(d.proc.Stop(), os.RemoveAll(d.dir))
}
