package harness

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ErrNoArgoCD is returned (wrapped) when Argo CD has not been built.
var ErrNoArgoCD = errors.New("harness: no Argo CD: run `make argocd` (it builds argocd into bin/argocd/), or set ARGOCD_DIR")

// ArgoCDNamespace is where Argo CD keeps its settings and its Applications.
const ArgoCDNamespace = "argocd"

// FindArgoCD returns the folder `make argocd` builds Argo CD into: ARGOCD_DIR, else the newest
// under bin/argocd/ of the module. It holds argocd and crds/.
func FindArgoCD() (string, error) {
	argocd, err := findBuilt("ARGOCD_DIR", "argocd", "argocd/*/argocd", ErrNoArgoCD)
	if err != nil {
		return "", err
	}
	return filepath.Dir(argocd), nil
}

// ArgoCDCRDs is the folder of Argo CD's CRDs (Application, AppProject), of the Argo CD built.
func ArgoCDCRDs() (string, error) {
	dir, err := FindArgoCD()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "crds"), nil
}

// ArgoCDOptions change how Argo CD is started.
type ArgoCDOptions struct {
	// Kubeconfig is the API server Argo CD manages and keeps its settings in, such as
	// ControlPlane.Kubeconfig writes; ArgoCDCRDs must be installed. Required.
	Kubeconfig string
	// Settings are argocd-cm's data: a user's customizations (docs/argocd.md's snippet).
	Settings map[string]string
	// LogDir, when set, keeps each component's log there after it stops.
	LogDir string
}

// ArgoCD is Argo CD's application controller, repo server and API server, each a plain
// process of the one argocd binary on 127.0.0.1, with Redis, Argo CD's cache, beside them.
// The controller manages the API server of the options as Argo CD's in-cluster cluster
// (https://kubernetes.default.svc). The API server takes requests without a login: it
// listens on loopback only, for the test.
type ArgoCD struct {
	dir                                string
	api                                string // the API server, plaintext HTTP and gRPC
	redis, repo, controller, apiServer *Process
}

// StartArgoCD writes Argo CD's settings into its namespace (created if need be) and starts
// its components, each waited for until it serves.
func StartArgoCD(ctx context.Context, c client.Client, opts ArgoCDOptions) (*ArgoCD, error) {
	if opts.Kubeconfig == "" {
		return nil, errors.New("harness: ArgoCDOptions.Kubeconfig is required")
	}
	dir, err := FindArgoCD()
	if err != nil {
		return nil, err
	}
	redisServer, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errors.New("harness: redis-server is not on the PATH: `make redis` installs Debian's package")
	}
	if err := writeArgoCDSettings(ctx, c, opts.Settings); err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "tranche-argocd-")
	if err != nil {
		return nil, err
	}
	a := &ArgoCD{dir: work}
	logs := cmp.Or(opts.LogDir, work)
	addrs, err := freeAddresses(7)
	if err != nil {
		return nil, err
	}
	redisAddr, repoAddr := addrs[0], addrs[1]
	a.api = addrs[2]
	a.redis = &Process{Name: "redis", Path: redisServer, LogFile: filepath.Join(logs, "redis.log"),
		Args:  []string{"--bind", "127.0.0.1", "--port", portOf(redisAddr), "--save", "", "--appendonly", "no", "--dir", work},
		Ready: func(ctx context.Context) error { return dial(ctx, redisAddr) }}
	// Every component reads the API server through the kubeconfig, the in-cluster cluster
	// included (ARGOCD_FAKE_IN_CLUSTER: Argo CD's way of running outside a cluster).
	// The repo server runs git-verify-wrapper.sh, which the build puts beside argocd.
	env := append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"), "KUBECONFIG="+opts.Kubeconfig, "ARGOCD_FAKE_IN_CLUSTER=true", "ARGOCD_GPG_ENABLED=false", "HOME="+work, "TMPDIR="+work)
	component := func(name string, ready func(context.Context) error, args ...string) *Process {
		return &Process{Name: name, Path: filepath.Join(dir, "argocd"), Args: args, LogFile: filepath.Join(logs, name+".log"),
			Env: append(slices.Clip(env), "ARGOCD_BINARY_NAME="+name), Ready: ready, ReadyTimeout: time.Minute}
	}
	common := []string{"--redis", redisAddr, "--loglevel", "info", "--logformat", "text"}
	a.repo = component("argocd-repo-server", func(ctx context.Context) error { return dial(ctx, repoAddr) },
		append([]string{"--address", "127.0.0.1", "--port", portOf(repoAddr), "--metrics-address", "127.0.0.1", "--metrics-port", portOf(addrs[3]), "--disable-tls", "--client-ca-path=",
			"--revision-cache-expiration", "2s"}, common...)...)
	a.controller = component("argocd-application-controller",
		func(ctx context.Context) error { return GetOK(ctx, "http://"+addrs[4]+"/metrics") },
		append([]string{"--kubeconfig", opts.Kubeconfig, "--namespace", ArgoCDNamespace, "--repo-server", repoAddr, "--repo-server-plaintext",
			"--metrics-port", portOf(addrs[4]), "--app-resync", "10", "--status-processors", "2", "--operation-processors", "2",
			"--self-heal-timeout-seconds", "1"}, common...)...)
	a.apiServer = component("argocd-server", func(ctx context.Context) error { return GetOK(ctx, "http://"+a.api+"/healthz") },
		append([]string{"--kubeconfig", opts.Kubeconfig, "--namespace", ArgoCDNamespace, "--insecure", "--disable-auth",
			"--address", "127.0.0.1", "--port", portOf(a.api), "--metrics-port", portOf(addrs[5]),
			"--repo-server", repoAddr, "--repo-server-plaintext"}, common...)...)
	for _, p := range []*Process{a.redis, a.repo, a.controller, a.apiServer} {
		if err := p.Start(ctx); err != nil {
			a.Stop()
			return nil, fmt.Errorf("starting %s: %w\n%s", p.Name, err, p.LogTail())
		}
	}
	return a, nil
}

// APIAddress is the host:port of Argo CD's API server (HTTP and gRPC, no TLS).
func (a *ArgoCD) APIAddress() string { return a.api }

// Refresh asks Argo CD to compare the Application with Git now, as the UI's Refresh button
// does (and a Git webhook would), rather than at its next periodic look.
func (a *ArgoCD) Refresh(ctx context.Context, application string) error {
	return GetOK(ctx, "http://"+a.api+"/api/v1/applications/"+application+"?refresh=normal")
}

// LogTail is the end of a component's log ("argocd-application-controller",
// "argocd-repo-server", "argocd-server" or "redis"), for a failure's message.
func (a *ArgoCD) LogTail(component string) string {
	for _, p := range []*Process{a.redis, a.repo, a.controller, a.apiServer} {
		if p != nil && p.Name == component {
			return p.LogTail()
		}
	}
	return ""
}

// Stop stops the components, the API server first.
func (a *ArgoCD) Stop() {
	for _, p := range []*Process{a.apiServer, a.controller, a.repo, a.redis} {
		if p != nil {
			_ = p.Stop()
		}
	}
	_ = os.RemoveAll(a.dir)
}

// writeArgoCDSettings creates Argo CD's namespace and the three objects of its settings: the
// argocd-cm with settings, an argocd-rbac-cm, and an argocd-secret with the key the API
// server signs with.
func writeArgoCDSettings(ctx context.Context, c client.Client, settings map[string]string) error {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	part := map[string]string{"app.kubernetes.io/part-of": "argocd"}
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ArgoCDNamespace}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ArgoCDNamespace, Name: "argocd-cm", Labels: part}, Data: settings},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ArgoCDNamespace, Name: "argocd-rbac-cm", Labels: part},
			Data: map[string]string{"policy.default": "role:admin"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ArgoCDNamespace, Name: "argocd-secret", Labels: part},
			StringData: map[string]string{"server.secretkey": hex.EncodeToString(key)}},
	} {
		if err := c.Create(ctx, obj); err != nil {
			return fmt.Errorf("writing Argo CD's %s %s: %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), err)
		}
	}
	return nil
}

// freeAddresses returns n loopback addresses nothing listens on now.
func freeAddresses(n int) ([]string, error) {
	addrs := make([]string, n)
	for i := range addrs {
		var err error
		if addrs[i], err = FreeAddress(); err != nil {
			return nil, err
		}
	}
	return addrs, nil
}

// dial succeeds once something accepts connections at addr.
func dial(ctx context.Context, addr string) error {
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return conn.Close()
}
